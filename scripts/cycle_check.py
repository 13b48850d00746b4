"""Cross-check the analytical mapper against the event model (jalapeno.mapping.event_sim) on two steps.

    python scripts/cycle_check.py                      # Qwen2.5-Coder-32B fp8 on Jalapeño-1 (docs/mapping.md)
    python scripts/cycle_check.py --json
    python scripts/cycle_check.py -m llama-3.2-1b -H tpu-v5e-arch --batch 8 --context 1024 --chunk 256 --cached 0

Steps: one chunked-prefill step (``--chunk`` new tokens of a prompt with ``--cached`` tokens already in
the KV cache) and one decode step (``--batch`` sequences at ``--context`` tokens). Device time only: the
sum over ops of (time x layers), per-kernel fixed costs included on both sides, host launches excluded.
"""

from __future__ import annotations

import argparse
import json
import sys

from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
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
        ops = replay_step(mapper, build_graph(cfg, b, prec))
        tot = totals(ops)
        worst = max(ops, key=lambda r: abs(r.mapper_s / r.event_s - 1) * r.event_s * r.repeat if r.event_s else 0)
        rows.append({"step": name, "mapper_s": tot["mapper_s"], "event_s": tot["event_s"],
                     "roofline_s": tot["roofline_s"], "mapper_over_event": tot["ratio"],
                     "within_tolerance": abs(tot["ratio"] - 1) <= TOLERANCE,
                     "largest_gap_op": worst.name,
                     "ops": [{"name": r.name, "layers": r.repeat, "mapper_s": r.mapper_s, "event_s": r.event_s,
                              "roofline_s": r.roofline_s, "how": r.how} for r in ops]})
    return {"model": cfg.name, "hardware": chip.name, "dtype": dtype, "tolerance": TOLERANCE, "steps": rows}


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
    a = ap.parse_args(argv)
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
    return 0 if all(r["within_tolerance"] for r in out["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
