"""Round-robin dispatch over a system's replicas (cost.published.dealt_in_turn, ServingConfig.round_robin,
ReplicaSteps.arrival_cv2): each replica's prefill queue sees every R-th arrival of the Poisson stream, so
Kingman's GI/G/1 tail with ca^2 = 1 / R, checked by hand, against a Lindley-recursion simulation and
against the two Llama-3.1-405B interactive logs NVIDIA's harness dealt round-robin."""

from __future__ import annotations

import numpy as np
import pytest

from jalapeno.cost.published import dealt_in_turn, load_published
from jalapeno.cost.published_fit import ChipFit
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario import ttft_p99_s
from jalapeno.cost.scenario_limits import binding, load_logged_runs, model_limits, replicas_of

ROWS = {r.id: r for r in load_published()}
B200_405B = "5.1-0069:llama3.1-405b:Interactive"
RACK_405B = "5.1-0071:llama3.1-405b:Interactive"
H200_70B = "5.1-0049:llama2-70b-99:Interactive"  # HPE, 8 TP1 replicas


def test_kingman_wait_scales_with_the_arrival_and_service_spread() -> None:
    """Service 0.1 s, load 0.8, prompt cv 0.5, 18 replicas dealt in turn: p99 wait = ln(80) x 0.1 x
    (1/18 + 0.25) / (2 x 0.2) = 4.382027 x 0.0763889 = 0.334738 s, plus the 0.1 s service; Poisson
    arrivals (ca^2 = 1): 4.382027 x 0.3125 = 1.369383 s."""
    assert ttft_p99_s(0.1, 0.8, 0.5, 1 / 18) == pytest.approx(0.334738 + 0.1, abs=1e-6)
    assert ttft_p99_s(0.1, 0.8, 0.5) == pytest.approx(1.369383 + 0.1, abs=1e-6)
    assert ttft_p99_s(0.1, 0.8, 0.5, 1 / 18) < ttft_p99_s(0.1, 0.8, 0.5, 0.5) < ttft_p99_s(0.1, 0.8, 0.5)


def _lindley_p99(replicas: int, rho: float, cs: float, n: int, seed: int) -> float:
    """p99 wait (in mean services) of one replica fed every ``replicas``-th arrival of a Poisson stream:
    Erlang gaps of mean 1 / rho, gamma services of mean 1 and cv ``cs`` (W' = max(0, W + S - A))."""
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(replicas, 1.0 / (replicas * rho), n)
    k = 1.0 / cs**2
    service = rng.gamma(k, 1.0 / k, n)
    w, waits = 0.0, np.empty(n)
    for i in range(n):
        waits[i] = w
        w = max(0.0, w + service[i] - gaps[i])
    return float(np.quantile(waits[n // 10 :], 0.99))


@pytest.mark.parametrize("replicas", [1, 2, 18])
def test_the_tail_matches_a_simulated_erlang_queue(replicas: int) -> None:
    """At the racks' prefill load (0.77) and the prompts' spread (cv 0.77), Kingman's p99 wait with
    ca^2 = 1 / R lies within 15% of a simulated E_R/G/1 queue's (100k arrivals; measured 2-3% off)."""
    sim = _lindley_p99(replicas, 0.77, 0.77, 100_000, seed=replicas)
    model = ttft_p99_s(1.0, 0.77, 0.77, 1.0 / replicas) - 1.0
    assert model == pytest.approx(sim, rel=0.15)


def test_nvidias_harness_deals_only_interactive_queries_in_turn() -> None:
    """llmlib/config.py: server -> load_balancing, every other scenario -> round_robin; offline has no
    queue to speak of, so only interactive rows carry it; vLLM harnesses are not assumed to."""
    assert dealt_in_turn("TensorRT 10.11", "interactive")
    assert not dealt_in_turn("TensorRT 10.11", "server")
    assert not dealt_in_turn("vLLM 0.9.0", "interactive")
    rack, b200 = ROWS[RACK_405B], ROWS[B200_405B]
    assert rack.serving is not None and rack.serving.round_robin
    assert b200.serving is not None and b200.serving.round_robin
    assert replicas_of(rack, 4) == 18 and replicas_of(b200, 4) == 2
    server = ROWS["5.1-0071:llama3.1-405b:Server"].serving
    assert server is not None and server.round_robin is None


@pytest.fixture(scope="module")
def fits() -> dict[str, ChipFit]:
    return calibrate_all(list(ROWS.values()), chips=["h200-sxm", "b200", "gb200-nvl72"])[0]


@pytest.mark.parametrize("row_id", [B200_405B, RACK_405B, H200_70B])
def test_at_the_logs_batch_the_p99_ttft_meets_the_log(fits: dict[str, ChipFit], row_id: str) -> None:
    """At the requests each log keeps decoding a replica (Little's law: B200 23, rack 36, H200 70B 90),
    the model's p99 TTFT with its replicas' Erlang gaps lies within 20% of the log's (B200 2.64 s against
    2.51, rack 2.92 s against 3.41, H200 70B 0.270 s against 0.291); with Poisson gaps per replica it was
    4.01 s, 10.7 s and 0.481 s (+60%, +214%, +65%)."""
    row, log = ROWS[row_id], load_logged_runs()[row_id]
    fit = fits[row.chip]
    b = round(log.decoding(replicas_of(row, row.tp or 1)))
    got = model_limits(row, preset_or_none(row.chip), fit.params, batch=b)
    assert got is not None
    limits, replicas = got
    assert replicas == row.n_chips // (row.tp or 1) and replicas > 1
    assert limits.ttft_p99_s == pytest.approx(log.ttft_p99_s, rel=0.2)


@pytest.mark.parametrize("row_id", [B200_405B, RACK_405B])
def test_the_interactive_runs_bind_on_tpot_in_their_logs_and_in_the_model(
    fits: dict[str, ChipFit], row_id: str
) -> None:
    """The logs: B200 p99 TPOT 77.7 of 80 ms against p99 TTFT 2.51 of 4.5 s; rack 72.2 of 80 ms against
    3.41 of 4.5 s. At its own batch the model binds on TPOT too (with Poisson gaps per replica it bound
    on TTFT at 4.40 and 4.32 s, below the batch the logs ran)."""
    row, log = ROWS[row_id], load_logged_runs()[row_id]
    assert binding(log.ttft_share, log.tpot_share) == "TPOT"
    got = model_limits(row, preset_or_none(row.chip), fits[row.chip].params)
    assert got is not None
    shares = got[0].shares(log.ttft_limit_s, log.tpot_limit_s)
    assert binding(*shares) == "TPOT" and shares[1] <= 1.0001
