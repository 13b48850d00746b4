"""Compare the mapper's systolic-array GEMM cycles with SCALE-Sim's over a sweep of shapes and arrays.

SCALE-Sim (PyPI ``scalesim``, Samajdar et al., ISPASS 2020) is NOT a dependency of Jalapeño. Run this
in an environment that has it (it needs numpy < 2 and pandas < 2.3 at version 3.0.0):

    python -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install scalesim "numpy<2" "pandas<2.3" pyyaml click rich
    PYTHONPATH=src /tmp/ssvenv/bin/python scripts/validate_scalesim.py [--quick] [--json out.json]

(the full sweep takes about 3 minutes on 2 cores; --quick about 10 seconds).

It runs each GEMM through SCALE-Sim's GEMM mode with SRAMs large enough that nothing stalls, reads
"Total Cycles" (compute cycles, prefetch excluded) from COMPUTE_REPORT.csv and prints a markdown table
with ours, SCALE-Sim's and the error (the table in docs/chips.md). Exit code 1 if any cycle count differs
(docs/chips.md reports exact agreement).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import glob
import io
import itertools
import json
import sys
import tempfile
from pathlib import Path

from jalapeno.mapping.engine import systolic_cycles

CFG = """[general]
run_name = {tag}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    65536
FilterSramSzkB:   65536
OfmapSramSzkB:    65536
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : {df}
Bandwidth : 100
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

ARRAYS = [(8, 8), (16, 16), (32, 32), (16, 64), (64, 16), (128, 128)]
SHAPES = [(16, 16, 16), (64, 64, 64), (100, 36, 70), (256, 128, 64), (33, 257, 129), (512, 64, 256), (128, 512, 96),
          (1, 256, 256), (8, 512, 128)]
QUICK_ARRAYS = [(8, 8), (16, 64), (32, 32)]
QUICK_SHAPES = [(16, 16, 16), (100, 36, 70), (256, 128, 64)]


def scalesim_cycles(rows: int, cols: int, df: str, m: int, n: int, k: int, work: Path) -> int:
    from scalesim.scale_sim import scalesim  # imported here: only this script needs it

    tag = f"r{rows}c{cols}{df}m{m}n{n}k{k}"
    cfg, topo, layout = work / f"{tag}.cfg", work / f"{tag}.csv", work / f"{tag}_layout.csv"
    cfg.write_text(CFG.format(tag=tag, rows=rows, cols=cols, df=df))
    topo.write_text(f"Layer, M, N, K,\nl0, {m}, {n}, {k},\n")
    layout.write_text("Layer," + ",".join(f"c{i}" for i in range(20)) + ",\nl0,"
                      + ",".join(["1"] * 6 + ["0", "1", "2"] * 3 + ["3", "0", "1", "2", "3"]) + ",\n")
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo), layout=str(layout),
                       input_type_gemm=True)
        sim.run_scale(top_path=str(work / "out"))
    report = glob.glob(str(work / "out" / tag / "COMPUTE_REPORT.csv"))[0]
    with open(report) as f:
        rows_ = list(csv.reader(f))
    return int(rows_[1][2])


def sweep(arrays: list[tuple[int, int]], shapes: list[tuple[int, int, int]]) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as d:
        for (r, c), (m, n, k), df in itertools.product(arrays, shapes, ("ws", "os", "is")):
            if r * c >= 128 * 128 and m * n * k > 2**22:
                continue  # SCALE-Sim's trace generation is slow on big arrays; the small ones cover the formula
            ref = scalesim_cycles(r, c, df, m, n, k, Path(d))
            ours = int(systolic_cycles(m, n, k, r, c, df))
            out.append({"rows": r, "cols": c, "dataflow": df, "m": m, "n": n, "k": k, "scalesim": ref, "ours": ours,
                        "error": ours / ref - 1.0})
    return out


def markdown(res: list[dict]) -> str:
    lines = ["| array | dataflow | M x N x K | SCALE-Sim cycles | ours | error |", "|---|---|---|---:|---:|---:|"]
    for x in res:
        lines.append(f"| {x['rows']}x{x['cols']} | {x['dataflow']} | {x['m']}x{x['n']}x{x['k']} | {x['scalesim']:,} | "
                     f"{x['ours']:,} | {100 * x['error']:+.2f}% |")
    worst = max(abs(x["error"]) for x in res)
    lines.append(f"\n{len(res)} GEMMs; worst |error| {100 * worst:.2f}%.")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 arrays x 3 shapes x 3 dataflows")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    a = ap.parse_args()
    res = sweep(QUICK_ARRAYS if a.quick else ARRAYS, QUICK_SHAPES if a.quick else SHAPES)
    sys.stdout.write(markdown(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0 if all(x["error"] == 0.0 for x in res) else 1


if __name__ == "__main__":
    raise SystemExit(main())
