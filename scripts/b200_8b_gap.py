"""Why the model over-predicts the B200 on MLPerf v5.1 Llama-3.1-8B: the logs' steps against the model's, the
model's server curve, and what-ifs of the candidate mechanisms, each refitted on the B200's fit rows.

docs/validation-8b.md is this script's page. Three parts:

1. ``points``: each B200 8B log summary's operating point, read with no model (Little's law, as
   scripts/mlperf_step_gap.py): server/interactive runs decode ``samples/s / 8 x (latency - TTFT)`` requests a
   GPU at the mean TPOT, each step carrying the prompts that arrived meanwhile (``samples/s / 8 x ISL x TPOT``
   tokens); an offline run under its 12,000-token budget decodes ``budget_batch`` requests and fills the rest
   of the budget with prompt chunks, so its step is 12,000 tokens / (its tokens/s of forward work a GPU). The
   model prices the same step (fitted B200 parameters), split into FP4 GEMMs, prefill and decode attention,
   LM head, the rest, the power-cap throttle and the fitted step overhead.
2. ``server``: the model's replica along the batch for the server row: cycle, prefill queue load, p99 TTFT and
   TPOT, so where the limits bind.
3. ``whatif``: each candidate mechanism patched into the op timer, then the H200 and B200 refitted (the B200's
   compute and step overhead move) and the B200's 8B, 70B and 405B rows predicted.

    /work/bin/jpy scripts/b200_8b_gap.py V51_GIT_DIR [rates|points|server|whatif]
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from mlperf_log_summaries import summary  # same directory

import jalapeno.cost.op_time as op_time_mod
import jalapeno.cost.step as step_mod
from jalapeno.cost.params import CostParams
from jalapeno.cost.published import PublishedRow, load_published
from jalapeno.cost.published_fit import row_shape
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario import tpot_p99_at, ttft_p99_at
from jalapeno.cost.scenario_limits import row_replica
from jalapeno.cost.scenario_steps import ReplicaSteps, budget_batch, mixed_graph
from jalapeno.graph.ops import Op
from jalapeno.models.registry import resolve_model

NV = "closed/NVIDIA/results/B200-SXM-180GBx8_TRT/llama3.1-8b"
LENOVO = "closed/Lenovo/results/SR780a_V3_B200SXMx8_TRT/llama3.1-8b"
LOGS = (
    ("NVIDIA interactive", f"{NV}/Interactive"),
    ("Lenovo server", f"{LENOVO}/Server"),
    ("NVIDIA server", f"{NV}/Server"),
    ("Lenovo offline", f"{LENOVO}/Offline"),
    ("NVIDIA offline", f"{NV}/Offline"),
)
GPUS = 8
FP4 = ("fp4", "nvfp4", "mxfp4")
Timer = Callable[[Op, op_time_mod.ChipRates, CostParams], op_time_mod.OpTime]
ORIGINAL: Timer = op_time_mod.op_time


TIMER = "op_time"  # the name the Estimator's default timer looks up in cost.step at call time


@contextmanager
def timed_by(timer: Timer) -> Iterator[None]:
    """Every op priced by ``timer`` inside the block (a what-if), the model's own timer after it."""
    setattr(step_mod, TIMER, timer)
    try:
        yield
    finally:
        setattr(step_mod, TIMER, ORIGINAL)


def eight_b_row(rows: list[PublishedRow], scenario: str) -> PublishedRow:
    return next(
        r
        for r in rows
        if (r.chip, r.model, r.scenario, r.submitter) == ("b200", "llama-3.1-8b", scenario, "NVIDIA")
    )


def replica(rows: list[PublishedRow], params: CostParams, scenario: str) -> ReplicaSteps:
    rep = row_replica(eight_b_row(rows, scenario), preset_or_none("b200"), params, 1)
    assert rep is not None
    return rep[0]


def part_of(op: Op) -> str:
    if op.kind == "attention":
        assert op.attention is not None
        return f"attn {op.attention.phase}"
    return {"matmul": "fp4 GEMMs", "lm_head": "LM head"}.get(op.kind, "other")


def priced(rs: ReplicaSteps, decoding: int, chunk: int) -> tuple[float, dict[str, float]]:
    """(ms, ms by part) of a step of ``decoding`` requests and ``chunk`` prompt tokens, overhead included."""
    g = mixed_graph(rs.model, decoding, rs.ctx, chunk, rs.isl, rs.precision, rs.biased_isl)
    sc = rs.est.step(g, cuda_graph=rs.graphs)
    parts: dict[str, float] = defaultdict(float)
    for c in sc.ops:
        parts[part_of(c.op)] += c.total_s * 1e3
    parts["throttle"] = sc.throttle_s * 1e3
    parts["overhead"] = sc.overhead_s * 1e3
    return sc.time_s * 1e3, dict(parts)


def offline_samples_per_s(git_dir: str, path: str) -> float:
    text = subprocess.run(
        ["git", "-C", git_dir, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout
    return next(float(ln.split(":")[1]) for ln in text.splitlines() if ln.startswith("Samples per second"))


def logged_point(git_dir: str, path: str, isl: int, osl: int, budget: int) -> tuple[int, int, float]:
    """(requests decoding a GPU, prompt tokens a step, measured mean step ms) from a log summary."""
    log = f"{path}/performance/run_1/mlperf_log_summary.txt"
    s = summary(git_dir, log)
    if "tpot_mean_s" not in s:  # offline ("Samples per second"): full budget steps
        per_gpu = offline_samples_per_s(git_dir, log) / GPUS
        dec = budget_batch(budget, isl, osl)
        return dec, budget - dec, budget / (per_gpu * (isl + osl)) * 1e3
    per_gpu = s["samples_per_s"] / GPUS
    dec = round(per_gpu * (s["latency_mean_s"] - s["ttft_mean_s"]))
    return dec, round(per_gpu * isl * s["tpot_mean_s"]), s["tpot_mean_s"] * 1e3


def points(git_dir: str, rows: list[PublishedRow], params: CostParams) -> None:
    rs = replica(rows, params, "offline")
    isl, osl = rs.isl, rs.osl
    assert rs.budget is not None
    print(
        "| run | decoding | prompt tokens a step | measured ms | model ms | gap ms | measured / model device"
        " | fp4 GEMMs | attn decode | attn prefill | LM head | other | throttle | overhead |"
    )
    print("| --- |" + " ---: |" * 13)
    for label, path in LOGS:
        dec, chunk, measured = logged_point(git_dir, path, isl, osl, rs.budget)
        t, p = priced(rs, dec, chunk)
        device = t - p["overhead"]
        cells = " | ".join(
            f"{p.get(k, 0.0):.1f}"
            for k in ("fp4 GEMMs", "attn decode", "attn prefill", "LM head", "other", "throttle", "overhead")
        )
        print(
            f"| {label} | {dec:,} | {chunk:,} | {measured:.1f} | {t:.1f} | {measured - t:+.1f} | "
            f"{measured / device:.2f} | {cells} |"
        )
    per_layer = params.step_overhead_s * rs.model.num_layers / 80  # the 70B's fitted constant a layer
    alt = replica(rows, replace(params, step_overhead_s=per_layer), "offline")
    print(
        f"\nDiagnostic (two changes, not adopted): 8B GEMMs at vLLM's measured 3.0 PFLOP/s and the "
        f"fitted step overhead a layer ({per_layer * 1e3:.1f} ms at {rs.model.num_layers} layers)"
    )
    print("| run | measured ms | diagnostic ms | gap ms |")
    print("| --- | ---: | ---: | ---: |")
    with timed_by(eight_b_gemms_at(3.0e15)):
        for label, path in LOGS:
            dec, chunk, measured = logged_point(git_dir, path, isl, osl, rs.budget)
            t, _ = priced(alt, dec, chunk)
            print(f"| {label} | {measured:.1f} | {t:.1f} | {measured - t:+.1f} |")


def server(rows: list[PublishedRow], params: CostParams) -> None:
    r = eight_b_row(rows, "server")
    _, _, limits, cv, fractions = row_shape(r)
    rs = replica(rows, params, "server")
    print(f"limits (TTFT s, TPOT s) {limits}; prompt-length cv {cv}")
    print("| batch | cycle ms | tok/s a GPU | prompt service ms | prefill load | p99 TTFT ms | p99 TPOT ms |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for b in (454, 800, 1200, 1400, 1500, 1521, 1540):
        c = rs.cycle(b)
        service, load = rs.prefill_service(b)
        print(
            f"| {b:,} | {c.time_s * 1e3:.1f} | {b / c.time_s:,.0f} | {service * 1e3:.1f} | {load:.3f} | "
            f"{ttft_p99_at(rs, b, cv) * 1e3:,.0f} | {tpot_p99_at(rs, b, cv, fractions) * 1e3:.1f} |"
        )


# -- what-ifs: each wraps the op timer -----------------------------------------------------------------------

H200_FP8_PER_SM = 1.979e15 / 132  # where k_overhead was measured (the H200's fp8 GEMMs)


def epilogue(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
    """The fitted per-tile fixed cost held in seconds: in K units it grows with a core's MMA rate."""
    if op.kind in ("matmul", "lm_head") and op.m:
        scale = rates.matrix_peak(op.dtype) / rates.cores / H200_FP8_PER_SM
        prm = replace(prm, k_overhead=prm.k_overhead * scale)
    return ORIGINAL(op, rates, prm)


def tiles_2sm(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
    """CUTLASS sm100 4-bit GEMMs: 256 x 256 tiles on 2-SM clusters, whole waves over cores / 2."""
    if op.kind in ("matmul", "lm_head") and op.m > 64 and op.dtype in FP4:
        rates = replace(rates, cores=rates.cores // 2)
        prm = replace(prm, tile_m=256, tile_n=256, wave_quantization=1.0)
    return ORIGINAL(op, rates, prm)


def act_quant(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
    """An unfused NVFP4 quantization of each 4-bit GEMM's input: read bf16, write 4 bits + fp8 scale a 16."""
    t = ORIGINAL(op, rates, prm)
    if op.kind == "matmul" and op.m and op.dtype in FP4:
        extra = op.m * op.k * (2 + 0.5 + 1 / 16) / (rates.mem_bw * prm.stream_eff) + prm.kernel_s
        t = replace(t, time_s=t.time_s + extra)
    return t


def lm_head_bf16(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
    """The LM head left in bf16, as quantized checkpoints leave it."""
    return ORIGINAL(replace(op, dtype="bf16") if op.kind == "lm_head" else op, rates, prm)


def k_fixed(k: float) -> Timer:
    """A per-tile fixed cost of ``k`` K units on 4-bit GEMMs (a magnitude, no source)."""

    def timer(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
        if op.kind in ("matmul", "lm_head") and op.m and op.dtype in FP4:
            prm = replace(prm, k_overhead=k)
        return ORIGINAL(op, rates, prm)

    return timer


def decode_attention(eff: float) -> Timer:
    """Blackwell decode attention at ``eff`` of HBM peak (a magnitude, no source)."""

    def timer(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
        a = op.attention
        if a is not None and a.phase == "decode" and rates.cores == 148:
            prm = replace(prm, attn_decode_mem_eff=eff)
        return ORIGINAL(op, rates, prm)

    return timer


EIGHT_B_SHAPES = {(6144, 4096), (4096, 4096), (28672, 4096), (4096, 14336)}  # (N, K) of Llama-3.1-8B


def eight_b_gemms_at(flops_per_s: float) -> Timer:
    """Llama-3.1-8B's 4-bit GEMMs (large M) at a measured rate; other shapes as modelled (a diagnostic)."""

    def timer(op: Op, rates: op_time_mod.ChipRates, prm: CostParams) -> op_time_mod.OpTime:
        t = ORIGINAL(op, rates, prm)
        if op.kind == "matmul" and op.m > 1024 and op.dtype in FP4 and (op.n, op.k) in EIGHT_B_SHAPES:
            t = replace(t, time_s=max(t.time_s, op.flops / flops_per_s))
        return t

    return timer


WHATIFS: tuple[tuple[str, Timer], ...] = (
    ("model as is", ORIGINAL),
    ("per-tile fixed cost held in seconds (x4.05 in K units on B200 fp4)", epilogue),
    ("2-SM 256x256 tiles, whole waves over 74 clusters", tiles_2sm),
    ("unfused NVFP4 activation quantization", act_quant),
    ("LM head in bf16", lm_head_bf16),
    ("per-tile fixed cost 4,400 K units (magnitude)", k_fixed(4400.0)),
    ("B200 decode attention at 50% of HBM peak (magnitude)", decode_attention(0.5)),
    ("8B GEMMs at 3.8 PFLOP/s (vLLM CUTLASS NVFP4, no quant)", eight_b_gemms_at(3.8e15)),
    ("8B GEMMs at 3.0 PFLOP/s (vLLM CUTLASS NVFP4 + quant)", eight_b_gemms_at(3.0e15)),
)
SHOWN = ("llama-3.1-8b", "llama-3.1-405b", "llama-2-70b")


def whatif(rows: list[PublishedRow]) -> None:
    for name, timer in WHATIFS:
        with timed_by(timer):
            fit = calibrate_all(rows, chips=["h200-sxm", "b200"])[0]["b200"]
        errs = [
            f"{c.row.model[6:]} {c.row.scenario[:5]} {c.row.submitter[:3]} {c.error * 100:+.1f}%"
            for c in fit.checked
            if c.row.model in SHOWN and not c.fitted and c.error is not None
        ]
        knobs = ", ".join(f"{k} {v:.4g}" for k, v in fit.knobs.items())
        print(f"{name} [{knobs}]:\n    " + "; ".join(errs))


def linear_flops_per_token(model: str) -> float:
    """2 x the parameters of a token's linear layers (QKV, O, gate/up, down; no LM head, no attention)."""
    m = resolve_model(model)
    n, kv = m.hidden_size, m.num_kv_heads * m.head_dim
    return 2.0 * m.num_layers * (n * (n + 2 * kv) + n * n + 3 * n * m.intermediate_size)


def rates(rows: list[PublishedRow]) -> None:
    """Model-free: each offline row's linear-layer FLOP rate a GPU (prompt and output tokens) over its
    dtype's dense peak, so shapes and chips compare with no model in the way."""
    print("| chip | model | submitter | dtype | tok/s a GPU | linear PFLOP/s | of dense peak |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: |")
    for r in rows:
        if r.scenario != "offline" or r.chip not in ("b200", "h200-sxm") or r.model not in SHOWN:
            continue
        isl, osl, *_ = row_shape(r)
        peak = preset_or_none(r.chip).matrix_flops["fp4" if r.precision == "fp4" else "fp8"].value
        flops = r.per_chip / osl * (isl + osl) * linear_flops_per_token(r.model)
        print(
            f"| {r.chip} | {r.model} | {r.submitter} | {r.precision} | {r.per_chip:,.0f} | "
            f"{flops / 1e15:.2f} | {flops / peak:.1%} |"
        )


def main(git_dir: str, part: str = "all") -> None:
    rows = load_published()
    params = calibrate_all(rows, chips=["h200-sxm", "b200"])[0]["b200"].params
    if part in ("all", "rates"):
        rates(rows)
    if part in ("all", "points"):
        points(git_dir, rows, params)
    if part in ("all", "server"):
        server(rows, params)
    if part in ("all", "whatif"):
        whatif(rows)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "all")
