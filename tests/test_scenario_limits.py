"""The TTFT limit of the scenario model (cost/scenario.py, cost/scenario_steps.py) and the published runs'
log summaries it is checked against (cost/scenario_limits.py)."""

from __future__ import annotations

import math

import pytest

from jalapeno.cost.params import fused_engine, params_for
from jalapeno.cost.published import WORKLOADS, ServingConfig, benchmark_of, load_published
from jalapeno.cost.published_fit import ChipFit
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario import precision_of, running_context, ttft_p99_at
from jalapeno.cost.scenario_limits import binding, load_logged_runs, model_limits
from jalapeno.cost.scenario_steps import ReplicaSteps
from jalapeno.cost.step import Estimator
from jalapeno.hardware.registry import resolve_chip
from jalapeno.models.registry import resolve_model

ROWS = load_published()
FP8 = precision_of("fp8")
H200 = resolve_chip("h200-sxm")
PRM = fused_engine(params_for("h200-sxm"))


def _steps(model: str, isl: int, osl: int, budget: int | None, tp: int = 8) -> ReplicaSteps:
    cfg = ServingConfig(max_num_tokens=budget) if budget else None
    m = resolve_model(model)
    return ReplicaSteps(m, Estimator(H200, PRM, tp), FP8, isl, osl, running_context(isl, osl), cfg)


# -- the first token rides whole steps -------------------------------------------------------------
def test_a_prompt_shorter_than_the_room_waits_half_a_step_then_a_whole_one() -> None:
    """Llama-2-70B (ISL 222) at 256 decoding under a 2048-token budget: room 1792 holds the prompt, so
    no full chunk step precedes its last; half a mean step in flight plus one mean step, where the token
    share of a step (``prefill_service``) is only 222 / 1792 of a full one."""
    rs = _steps("llama-2-70b", 222, 291, 2048)
    step = rs.cycle(256).time_s
    assert rs.first_token_s(256) == pytest.approx(1.5 * step)
    service, _ = rs.prefill_service(256)
    assert service == pytest.approx(222 / 1792 * rs.full_step_s(256))
    assert rs.first_token_s(256) > service  # the old p99 TTFT counted only the token share


def test_a_prompt_longer_than_the_room_fills_whole_chunk_steps_first() -> None:
    """Llama-3.1-405B (ISL 9429) at 48 decoding under a 2048-token budget: room 2000, so floor(9428 /
    2000) = 4 full chunk steps, then the last (a mean step), after half a mean step in flight."""
    rs = _steps("llama-3.1-405b", 9429, 652, 2048)
    step, full = rs.cycle(48).time_s, rs.full_step_s(48)
    assert rs.first_token_s(48) == pytest.approx(1.5 * step + 4 * full)
    assert full > step  # a full chunk step outlasts the mean one


def test_without_a_budget_the_prefill_step_follows_half_a_step() -> None:
    rs = _steps("llama-2-70b", 222, 291, None)
    assert rs.first_token_s(256) == pytest.approx(rs.cycle(256).time_s / 2 + rs.prefill_one_s)


class _Queue:
    """A replica stand-in with a given prefill service, load and first-token time."""

    def __init__(self, service_s: float, rho: float, first_s: float, arrival_cv2: float = 1.0) -> None:
        self.service_s, self.rho, self.first_s = service_s, rho, first_s
        self.arrival_cv2 = arrival_cv2

    def prefill_service(self, b: int) -> tuple[float, float]:
        return self.service_s, self.rho

    def first_token_s(self, b: int) -> float:
        return self.first_s

    def held_ttft_p99_s(self, b: int) -> float | None:
        return None  # a prefill queue, not a paced release


def test_p99_ttft_is_the_kingman_wait_plus_the_first_token_steps() -> None:
    """Hand-computed: service 0.1 s, load 0.8, prompt cv 0.5: p99 wait = ln(100 x 0.8) x 0.1 x (1 +
    0.25) / (2 x 0.2) = 4.38203 x 0.3125 = 1.36938 s; plus 0.25 s of steps. Load 0.005: no wait."""
    assert ttft_p99_at(_Queue(0.1, 0.8, 0.25), 1, 0.5) == pytest.approx(1.36938 + 0.25, abs=1e-5)  # type: ignore[arg-type]
    assert ttft_p99_at(_Queue(0.1, 0.005, 0.25), 1, 0.5) == pytest.approx(0.25)  # type: ignore[arg-type]
    assert ttft_p99_at(_Queue(0.1, 1.0, 0.25), 1, 0.5) == math.inf  # type: ignore[arg-type]


# -- the published logs -------------------------------------------------------------------------------
def test_every_server_and_interactive_row_has_its_log_and_its_rounds_limits() -> None:
    logs = load_logged_runs()
    for r in ROWS:
        if r.scenario not in ("server", "interactive"):
            continue
        g = logs[r.id]
        assert (g.ttft_limit_s, g.tpot_limit_s) == WORKLOADS[benchmark_of(r.model)].limits_s[r.scenario]
        assert g.ttft_p99_s > g.ttft_mean_s > 0 and g.tpot_mean_s > 0
        # LoadGen's mean TPOT is the per-request TPOTs' sum over the sample count and its p99 one of the same
        # array (loadgen/results.cc, ProcessTokenLatencies): requests past the p99 with very long TPOTs can
        # lift the mean over it, as in the GB200 NVL72 DeepSeek-R1 server run (p99 64.5 ms, mean 69.6 ms)
        assert g.tpot_p99_s > g.tpot_mean_s or (r.expert_parallel and g.tpot_p99_s > 0.9 * g.tpot_mean_s)
        assert g.latency_mean_s > g.ttft_mean_s
        # a valid run meets both limits (early stopping lets the p99 estimate sit a hair above)
        assert g.ttft_share <= 1.0 and g.tpot_share <= 1.0
        assert g.source.endswith("/performance/run_1/mlperf_log_summary.txt") and "/blob/main/" in g.source


def test_littles_law_on_the_b200_llama_8b_server_log() -> None:
    """996.53 samples/s x (4.2322 - 0.58677 s) / 8 TP1 replicas = 454.1 decoding a GPU; p99 TTFT 1.7494
    of 2 s (87%) against p99 TPOT 42.1 of 100 ms: TTFT-bound."""
    g = load_logged_runs()["5.1-0069:llama3.1-8b:Server"]
    assert g.decoding(8) == pytest.approx(996.53 * (4.2322 - 0.586774) / 8, rel=1e-4)
    assert g.decoding(8) == pytest.approx(454.1, abs=0.5)
    assert g.ttft_share == pytest.approx(0.8747, abs=1e-4)
    assert binding(g.ttft_share, g.tpot_share) == "TTFT"
    assert binding(0.5, 0.9) == "TPOT"


@pytest.fixture(scope="module")
def fits() -> dict[str, ChipFit]:
    return calibrate_all(ROWS, chips=["h200-sxm", "h100-sxm", "b200", "gb200-nvl72"])[0]


def test_rows_the_logs_call_ttft_bound_are_ttft_bound_in_the_model(fits: dict[str, ChipFit]) -> None:
    """Every run whose log has p99 TTFT at >= 85% of its limit and p99 TPOT under 80% (the Llama-3.1-405B
    server rows, both Llama-3.1-8B TTFT-bound servers) binds on TTFT in the model too, at its own batch."""
    logs, n = load_logged_runs(), 0
    for f in fits.values():
        for c in f.checked:
            g = logs.get(c.row.id)
            if g is None or not (g.ttft_share >= 0.85 and g.tpot_share < 0.8):
                continue
            got = model_limits(c.row, preset_or_none(f.chip), f.params)
            assert got is not None, c.row.id
            m = got[0]
            assert binding(*m.shares(g.ttft_limit_s, g.tpot_limit_s)) == "TTFT", c.row.id
            assert m.ttft_p99_s <= g.ttft_limit_s * 1.0001  # and the model meets it
            n += 1
    assert n >= 5
