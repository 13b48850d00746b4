"""Timings of trace loading and generation.

Run as a script (``python benchmarks/bench_workload.py``) for a table of best-of-5 timings, or with
pytest-benchmark (``pytest benchmarks/bench_workload.py --benchmark-enable``). The budget that matters:
loading the whole Azure code trace (8,819 rows) well under 0.5 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from jalapeno.workload import bundled_names, load_trace, poisson, sessions


def _loader(name: str) -> Callable[[], Any]:
    return lambda: load_trace(name)


CASES: dict[str, Callable[[], Any]] = {
    **{f"load {name}": _loader(name) for name in bundled_names()},
    "load azure-code + stats": lambda: load_trace("azure-code").stats,
    "poisson 10k requests": lambda: poisson(10.0, count=10_000, seed=0),
    "sessions 100 x 10 turns": lambda: sessions(100, seed=0),
}


def best_of(fn: Callable[[], Any], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def test_load_azure_code(benchmark: Any) -> None:
    trace = benchmark(load_trace, "azure-code")
    assert len(trace) == 8819


def test_load_mooncake_conversation(benchmark: Any) -> None:
    trace = benchmark(load_trace, "mooncake-conversation")
    assert len(trace) == 12031


def main() -> None:
    for label, fn in CASES.items():
        print(f"{label:32s} {best_of(fn) * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
