"""What each serving mechanism of the MLPerf DeepSeek-R1 configs moves, row by row, and the paced TTFT.

    /work/bin/jpy scripts/deepseek_adp_effects.py

For every expert-parallel MLPerf row (the chips' parameters as ``jalapeno calibrate --all`` fits them from
their dense rows; nothing fitted on these rows) it prints the predicted tokens/s a GPU and its error as the
mechanisms are added one at a time, in this order:

1. the plain expert-parallel path as it was (``EPReplicaSteps`` without the row's prompt spread or groups);
2. + the prompt lengths' spread (cv 0.505: prefill attention at the length-biased prompt) and the system's
   groups (the replicas its harness feeds);
3. + attention-DP balance (``cost.adp``): releases every R steps, each an eager step of the hottest rank
   within ``max_num_tokens``, decode steps unpadded;
4. + CUDA-graph padding of decode steps to the captured batch sizes;
5. + the published ``kvcache_free_gpu_mem_frac`` and ``max_concurrency`` (the model as shipped).

Then, for the server rows at the run's own load (decoding requests by Little's law from the bundled log
summary), the model's step, release period, release step and p99 TTFT against the log's mean and p99 TTFT;
and a sensitivity, never applied: the batch the server scenario would choose, and its throughput, were every
step (decode and release) k times the model's, k the run's mean TPOT over the model's cycle at the run's
load. It separates the batch choice (limits, balance, cap) from the step's price.
"""

from __future__ import annotations

from jalapeno.cost.expert import ep_step
from jalapeno.cost.params import CostParams, fused_engine
from jalapeno.cost.published import PublishedRow, load_published
from jalapeno.cost.published_adp import adp_config
from jalapeno.cost.published_ep import ADPReplicaSteps, EPReplicaSteps, ep_parallel, ep_setup, row_steps
from jalapeno.cost.published_fit import row_shape
from jalapeno.cost.published_run import calibrate_all
from jalapeno.cost.scenario import best_batch, precision_of, ttft_p99_at
from jalapeno.cost.scenario_limits import load_logged_runs
from jalapeno.cost.scenario_steps import graph_of
from jalapeno.hardware.registry import resolve_chip
from jalapeno.hardware.spec import ChipSpec
from jalapeno.models import resolve_model

CHIPS = ["h200-sxm", "b200", "gb200-nvl72", "gb300-nvl72"]
STAGES = ("as it was", "+ spread, groups", "+ ADP release", "+ graph padding", "+ cache, concurrency")


class _Unpadded(ADPReplicaSteps):
    """Stage 3: decode steps at the real rows (no CUDA-graph padding)."""

    def _decode(self, b: int, rows: int) -> tuple[float, float]:
        g = graph_of(self.model, "decode", rows, self.ctx, self.precision)
        sc, _ = ep_step(self.est, self.model, self.par, [(g, b)], cuda_graph=self.graphs)
        return sc.time_s, sc.energy_j


class _Scaled(ADPReplicaSteps):
    """Every step k times the model's (the sensitivity): the release period is the arrivals', unscaled."""

    k = 1.0

    def steps(self, b: int) -> tuple[float, float, float, float, float, float]:
        r, dec_s, dec_j, rel_s, rel_j, load = super().steps(b)
        return r, dec_s * self.k, dec_j, rel_s * self.k, rel_j, load


def stages(row: PublishedRow, chip: ChipSpec, params: CostParams) -> list[tuple[EPReplicaSteps, int]]:
    """(steps, group cap) of each stage."""
    m, prec, par = resolve_model(row.model), precision_of(row.precision), ep_parallel(row)
    isl, osl, _, cv, fr = row_shape(row)
    groups = max(1, row.n_chips // par.chips)
    old = ep_setup(m, chip, params, prec, par, isl, osl, fr, row.serving)
    spread = ep_setup(m, chip, params, prec, par, isl, osl, fr, row.serving, isl_cv=cv, replicas=groups)
    adp = adp_config(row.id)
    assert old and spread and adp
    base = old[0]
    args = (m, base.est, prec, isl, osl, base.ctx, row.serving, par, groups)
    unpadded = _Unpadded(*args, isl_cv=cv, adp=adp)
    padded = ADPReplicaSteps(*args, isl_cv=cv, adp=adp)
    now = row_steps(row, m, chip, params, row_shape(row))
    assert now
    return [old, spread, (unpadded, old[1]), (padded, old[1]), now]


def throughput(row: PublishedRow, rs: EPReplicaSteps, cap: int) -> tuple[float, int]:
    _, _, limits, cv, fr = row_shape(row)
    b = best_batch(rs, cap, limits, cv, fr)
    assert b is not None
    return b / rs.cycle(b).time_s / ep_parallel(row).chips, b


def main() -> None:
    rows = load_published()
    fits, _ = calibrate_all(rows, CHIPS)
    logs = load_logged_runs()
    print("| row | published | " + " | ".join(STAGES) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in STAGES) + " |")
    paced = []
    for f in fits.values():
        for c in f.ep_checked:
            r = c.row
            if adp_config(r.id) is None:
                continue
            chip, prm = resolve_chip(r.chip), fused_engine(f.params)
            cells = []
            for rs, cap in stages(r, chip, prm):
                t, b = throughput(r, rs, cap)
                cells.append(f"{t:,.0f} ({t / r.per_chip - 1:+.0%}, B {b})")
            print(f"| {r.key} | {r.per_chip:,.0f} | " + " | ".join(cells) + " |")
            if r.id in logs:
                paced.append((r, chip, prm))
    print()
    print(
        "| row | decoding (log) | model step | R | release step | model p99 TTFT | "
        "log mean TTFT | log p99 TTFT | log mean TPOT | k | batch at k x step | tok/s/GPU at k |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r, chip, prm in paced:
        log = logs[r.id]
        par = ep_parallel(r)
        busy = round(log.decoding(max(1, r.n_chips // par.chips)))
        got = row_steps(r, resolve_model(r.model), chip, prm, row_shape(r))
        assert got and isinstance(got[0], ADPReplicaSteps)
        rs = got[0]
        big_r, _, _, rel_s, _, _ = rs.steps(busy)
        cv = row_shape(r)[3]
        k = log.tpot_mean_s / rs.cycle(busy).time_s
        scaled = _Scaled(
            rs.model,
            rs.est,
            rs.precision,
            rs.isl,
            rs.osl,
            rs.ctx,
            rs.cfg,
            rs.par,
            rs.replicas,
            isl_cv=cv,
            adp=rs.adp,
        )
        scaled.k = k
        t, b = throughput(r, scaled, got[1])
        print(
            f"| {r.key} | {busy:,} | {rs.cycle(busy).time_s * 1e3:.1f} ms | {big_r:.1f} | "
            f"{rel_s * 1e3:.1f} ms | {ttft_p99_at(rs, busy, cv):.2f} s | {log.ttft_mean_s:.2f} s | "
            f"{log.ttft_p99_s:.2f} s | {log.tpot_mean_s * 1e3:.1f} ms | {k:.2f} | {b:,} | "
            f"{t:,.0f} ({t / r.per_chip - 1:+.0%}) |"
        )


if __name__ == "__main__":
    main()
