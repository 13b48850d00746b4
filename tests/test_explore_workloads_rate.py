"""The 8x-rate workloads are their base workloads with arrivals compressed 8x: same requests, same lengths."""

import pytest

from jalapeno.explore import resolve_workload


@pytest.mark.parametrize("base", ["azure-code", "mooncake-conversation", "agentic-coding"])
def test_eight_x_keeps_requests_and_compresses_time(base: str) -> None:
    slow, fast = resolve_workload(base).requests(), resolve_workload(f"{base}-8x").requests()
    assert len(fast) == len(slow)
    assert sum(r.prompt_tokens + r.output_tokens for r in fast) == sum(
        r.prompt_tokens + r.output_tokens for r in slow
    )
    if base == "agentic-coding":
        # sessions start 8x as often; later turns wait on think time and service, so the span shrinks by less
        assert slow[-1].arrival_s / fast[-1].arrival_s > 3.0
    else:
        assert slow[-1].arrival_s / fast[-1].arrival_s == pytest.approx(8.0, rel=1e-9)
