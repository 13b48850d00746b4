"""Evaluate the first N of 8 fixed designs, for an instruction count that a busy machine cannot blur.

    valgrind --tool=callgrind --callgrind-out-file=/dev/null python benchmarks/callgrind_explore.py 8
    valgrind --tool=callgrind --callgrind-out-file=/dev/null python benchmarks/callgrind_explore.py 0

The second run is the setup alone (imports, the trace, drawing the 8 designs, as ``cpu_explore.py`` draws
them with seed 0); the difference of the two "I refs" totals is the instructions of the 8 evaluations.
"""

from __future__ import annotations

import sys

import numpy as np
from bench_explore import full_designs

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.evaluate import evaluate_design


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    space, work = load_space("coding-asic"), resolve_workload("azure-code")
    work.requests()
    gen = full_designs(space, np.random.default_rng(0))
    designs = [next(gen) for _ in range(8)]
    for d in designs[:n]:
        evaluate_design(space, d, work, fast=True)


if __name__ == "__main__":
    main()
