"""Cross-check the analytical mapper against the event model (jalapeno.mapping.event_sim) on two steps.

    python scripts/cycle_check.py                      # Qwen2.5-Coder-32B fp8 on Jalapeño-1 (docs/mapping.md)
    python scripts/cycle_check.py --json
    python scripts/cycle_check.py -m llama-3.2-1b -H tpu-v5e-arch --batch 8 --context 1024 --chunk 256 --cached 0
    python scripts/cycle_check.py --attribution        # each derived loss switched off in turn (mapper times)
    python scripts/cycle_check.py --gemm-sweep         # 45 GEMM shapes, op by op

Steps: one chunked-prefill step (``--chunk`` new tokens of a prompt with ``--cached`` tokens already in
the KV cache) and one decode step (``--batch`` sequences at ``--context`` tokens). Device time only: the
sum over ops of (time x layers), per-kernel fixed costs included on both sides, host launches excluded.
"""

from __future__ import annotations

import argparse
import json
import sys

from dataclasses import replace

from jalapeno.cost.params import setup_for
from jalapeno.cost.step import Estimator
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.arch import arch_of, derive_chip
from jalapeno.hardware.spec import Figure
from jalapeno.mapping import mapper_for
from jalapeno.mapping.event_sim import replay_step, totals
from jalapeno.models import resolve_model

TOLERANCE = 0.10


def check(model: str, hardware: str, dtype: str, batch: int, context: int, chunk: int, cached: int) -> dict:
    chip = resolve_chip(hardware)
    mapper = mapper_for(chip)
    if mapper is None:
        raise SystemExit(f"error: {hardware} is a datasheet chip; the cross-check needs an architecture (-H ARCH.yaml)")
    cfg, prec = resolve_model(model), Precision.of(dtype)
    steps = {f"prefill chunk {chunk} (+{cached} cached)": Batch.prefill(chunk, cached),
             f"decode {batch} x {context}": Batch.decode(batch, context)}
    rows = []
    for name, b in steps.items():
        graph = build_graph(cfg, b, prec)
        ops = replay_step(mapper, graph)
        tot = totals(ops)
        energy = energy_by_level(mapper, graph)
        worst = max(ops, key=lambda r: abs(r.mapper_s / r.event_s - 1) * r.event_s * r.repeat if r.event_s else 0)
        rows.append({"step": name, "mapper_s": tot["mapper_s"], "event_s": tot["event_s"],
                     "roofline_s": tot["roofline_s"], "mapper_over_event": tot["ratio"],
                     "within_tolerance": abs(tot["ratio"] - 1) <= TOLERANCE,
                     "largest_gap_op": worst.name, "dynamic_energy_by_level_j": energy,
                     "ops": [{"name": r.name, "layers": r.repeat, "mapper_s": r.mapper_s, "event_s": r.event_s,
                              "roofline_s": r.roofline_s, "how": r.how} for r in ops]})
    return {"model": cfg.name, "hardware": chip.name, "dtype": dtype, "tolerance": TOLERANCE, "steps": rows}


def energy_by_level(mapper, graph) -> dict[str, float]:
    """The step's dynamic energy by level (one chip): the mapper's counts x the architecture's energies."""
    t, out = mapper.target, {}
    pj = {"matrix_flops": None, "vector_flops": t.pj_vector_flop, "main_bytes": 8 * t.pj_main_bit,
          "level2_bytes": 8 * t.pj_l2_bit, "sram_bytes": 8 * t.pj_sram_bit, "rf_bytes": 8 * t.pj_rf_bit}
    for op in graph.ops:
        m = mapper.map(op)
        for k, v in m.counts.items():
            e = v * (t.energy_pj_flop(m.dtype) if pj[k] is None else pj[k]) * 1e-12 * op.repeat
            out[k] = out.get(k, 0.0) + e
    return out


def gemm_sweep(hardware: str, dtype: str) -> dict:
    """Mapper / event model for single GEMMs (m x k) @ (k x n) over a grid of shapes."""
    import itertools
    import statistics

    from jalapeno.mapping.event_sim import replay_gemm
    from jalapeno.mapping.gemm import GemmProblem, map_gemm

    mapper = mapper_for(resolve_chip(hardware))
    if mapper is None:
        raise SystemExit(f"error: {hardware} is a datasheet chip")
    t, rows = mapper.target, []
    b = Precision.of(dtype).weights.bytes_per_element
    for m, n, k in itertools.product([16, 64, 256, 512, 2048], [1536, 8960, 27648], [1536, 5120, 8960]):
        p = GemmProblem(m, n, k, 1, m * k * b, k * n * b, m * n * b, dtype)
        g, ev = map_gemm(t, p), replay_gemm(t, p)
        rows.append({"m": m, "n": n, "k": k, "mapper_s": g.time_s, "event_s": ev, "ratio": g.time_s / ev,
                     "tile": "x".join(map(str, g.tile)), "bound": g.bound})
    r = [x["ratio"] for x in rows]
    return {"hardware": hardware, "dtype": dtype, "gemms": rows, "median": statistics.median(r), "min": min(r),
            "max": max(r), "within_tolerance": sum(abs(x - 1) <= TOLERANCE for x in r)}


OFF = 1e-15  # a loss switched off (figures must be > 0)
VARIANTS = {  # name -> runtime figures replaced
    "derived (this model)": {},
    "no compiled buckets": {"token_bucket_gap": 1, "kv_bucket_tokens": 1},
    "no DMA setup": {"dma_setup_s": OFF},
    "no barriers / combines": {"barrier_s": OFF},
    "none of the three": {"token_bucket_gap": 1, "kv_bucket_tokens": 1, "dma_setup_s": OFF, "barrier_s": OFF},
    "constant issue efficiency 0.9, none of the three": {"token_bucket_gap": 1, "kv_bucket_tokens": 1,
                                                         "dma_setup_s": OFF, "barrier_s": OFF,
                                                         "matrix_issue_efficiency": 0.9},
}


def attribution(model: str, hardware: str, dtype: str, batch: int, context: int, chunk: int, cached: int) -> dict:
    """Step time and J/token through the Estimator (what ``jalapeno estimate`` prints) with each derived loss
    switched off in turn. Token buckets switched off still pad to 16 tokens; the prefill is a chunk of one
    prompt, the decode a CUDA-graph-like replayed step, as in ``estimate``."""
    base = arch_of(resolve_chip(hardware))
    if base is None:
        raise SystemExit(f"error: {hardware} is a datasheet chip")
    cfg, prec = resolve_model(model), Precision.of(dtype)
    graphs = {"prefill": (build_graph(cfg, Batch.prefill(chunk, cached), prec), chunk, False),
              "decode": (build_graph(cfg, Batch.decode(batch, context), prec), batch, True)}
    rows = []
    for name, repl in VARIANTS.items():
        rt = base.runtime
        figs = {k: Figure(float(v), "cycle_check.py variant") for k, v in repl.items()}
        chip = derive_chip(replace(base, runtime=replace(rt, **figs)))
        prm, timer = setup_for(chip)
        est = Estimator(chip, prm, 1, timer)
        row: dict = {"variant": name}
        for step, (g, tokens, graph_mode) in graphs.items():
            sc = est.step(g, cuda_graph=graph_mode)
            row[f"{step}_s"], row[f"{step}_j_per_token"] = sc.time_s, sc.energy_j / tokens
        rows.append(row)
    return {"model": cfg.name, "hardware": hardware, "dtype": dtype, "variants": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", default="qwen2.5-coder-32b")
    ap.add_argument("-H", "--hardware", default="jalapeno-1")
    ap.add_argument("--dtype", default="fp8")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--context", type=int, default=8192)
    ap.add_argument("--chunk", type=int, default=512)
    ap.add_argument("--cached", type=int, default=1536)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--attribution", action="store_true", help="step times with each derived loss switched off")
    ap.add_argument("--gemm-sweep", action="store_true", help="single GEMMs over a grid of shapes")
    a = ap.parse_args(argv)
    if a.gemm_sweep:
        sw = gemm_sweep(a.hardware, a.dtype)
        if a.json:
            print(json.dumps(sw, indent=1, sort_keys=True))
            return 0
        for x in sw["gemms"]:
            print(f"{x['m']:5d} x {x['n']:5d} x {x['k']:5d}  mapper {x['mapper_s'] * 1e6:8.2f} us  event "
                  f"{x['event_s'] * 1e6:8.2f} us  {x['ratio']:.3f}  {x['tile']} {x['bound']}")
        print(f"{len(sw['gemms'])} GEMMs on {sw['hardware']}: mapper / event median {sw['median']:.3f}, "
              f"range {sw['min']:.3f}-{sw['max']:.3f}, {sw['within_tolerance']} within {TOLERANCE:.0%}")
        return 0
    if a.attribution:
        att = attribution(a.model, a.hardware, a.dtype, a.batch, a.context, a.chunk, a.cached)
        if a.json:
            print(json.dumps(att, indent=1, sort_keys=True))
            return 0
        print(f"{att['model']} ({att['dtype']}) on {att['hardware']}: jalapeno estimate's step, losses switched off")
        print("| model | prefill chunk | J/token | decode step | J/token |")
        print("|---|---:|---:|---:|---:|")
        for r in att["variants"]:
            print(f"| {r['variant']} | {r['prefill_s'] * 1e3:.2f} ms | {r['prefill_j_per_token'] * 1e3:.2f} mJ | "
                  f"{r['decode_s'] * 1e3:.2f} ms | {r['decode_j_per_token'] * 1e3:.1f} mJ |")
        return 0
    out = check(a.model, a.hardware, a.dtype, a.batch, a.context, a.chunk, a.cached)
    if a.json:
        print(json.dumps(out, indent=1, sort_keys=True))
    else:
        print(f"{out['model']} ({out['dtype']}) on {out['hardware']}: analytical mapper vs event model")
        print(f"| step | mapper | event model | mapper / event | roofline | within {TOLERANCE:.0%} | largest gap |")
        print("|---|---:|---:|---:|---:|---|---|")
        for r in out["steps"]:
            print(f"| {r['step']} | {r['mapper_s'] * 1e3:.2f} ms | {r['event_s'] * 1e3:.2f} ms | "
                  f"{r['mapper_over_event']:.3f} | {r['roofline_s'] * 1e3:.2f} ms | "
                  f"{'yes' if r['within_tolerance'] else 'NO'} | {r['largest_gap_op']} |")
        print("\ndynamic energy by level (J, one chip; the mapper's counts x energy per action):")
        for r in out["steps"]:
            e = r["dynamic_energy_by_level_j"]
            print(f"  {r['step']}: " + ", ".join(f"{k.replace('_bytes', '').replace('_flops', ' FLOPs')} {v:.3f}"
                                                 for k, v in e.items()) + f"; total {sum(e.values()):.3f}")
    return 0 if all(r["within_tolerance"] for r in out["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
