"""Fuzz the ``jalapeno`` CLI in-process: N generated invalid command lines through click's CliRunner.

    python benchmarks/fuzz_cli.py --inputs 100000 [--seed 0] [--limit-s 20] [--json out.json]

Every input is invalid by construction (tests/cli_fuzz_spec.py: one out-of-bound or non-number value, a
hostile file or name, an unwritable output or an unknown option on an otherwise valid, fast command). Counts:
tracebacks, hangs (no answer within ``--limit-s``), exit 0 on the invalid input, and answers that are not
exactly one ``error:`` line with exit 2. Prints progress to stderr every 30 s and the counts as JSON at the end.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from cli_fuzz_spec import generate, generate_valid  # noqa: E402
from cli_harness import run  # noqa: E402


class Hang(BaseException):
    """Raised by the per-input alarm; a BaseException so no ``except Exception`` in the code under test eats it."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang


def one(argv: list[str], limit_s: float, invalid: bool = True) -> str:
    """The outcome class of one input: ok, traceback, hang, exit0 or not_one_line (``invalid=False``: any exit
    0, or 2 with one error line, is ok)."""
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        r = run(*argv)
    except Hang:
        return "hang"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if r.traceback:
        return "traceback"
    if r.code == 0:
        return "ok" if not invalid else "exit0"
    return "ok" if r.one_error_line else "not_one_line"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit-s", type=float, default=20.0, help="per-input time limit, seconds")
    ap.add_argument("--valid-share", type=float, default=0.0,
                    help="share of inputs drawn from in-range values (tests/cli_fuzz_spec.generate_valid): any exit "
                    "code but no traceback or hang")
    ap.add_argument("--json", default=None, help="also write the counts (and failing examples) here")
    a = ap.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    rng = random.Random(a.seed)
    counts: collections.Counter[str] = collections.Counter()
    by_command: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[list[str]]] = collections.defaultdict(list)
    t0 = last = time.monotonic()

    def summary(done: int) -> dict[str, object]:
        wall = time.monotonic() - t0
        return {"command": " ".join(["python benchmarks/fuzz_cli.py", *sys.argv[1:]]), "inputs": done,
                "of": a.inputs, "seed": a.seed, "limit_s": a.limit_s, "wall_s": round(wall, 1),
                "inputs_per_s": round(done / wall, 1), "tracebacks": counts["traceback"], "hangs": counts["hang"],
                "exit0_on_invalid": counts["exit0"], "not_one_error_line": counts["not_one_line"],
                "answered_per_contract": counts["ok"], "invalid_inputs": counts["invalid_inputs"],
                "in_range_inputs": counts["valid_inputs"], "by_command": dict(sorted(by_command.items())),
                "examples": examples}

    for i in range(a.inputs):
        valid = rng.random() < a.valid_share
        argv = generate_valid(rng) if valid else generate(rng)
        kind = one(argv, a.limit_s, invalid=not valid)
        counts["valid_inputs" if valid else "invalid_inputs"] += 1
        counts[kind] += 1
        by_command[" ".join(argv[:2] if argv[0] in ("chip", "models", "hardware", "traces") else argv[:1])] += 1
        if kind != "ok" and len(examples[kind]) < 20:
            examples[kind].append(argv)
        now = time.monotonic()
        if now - last >= 30:
            last = now
            print(f"fuzz: {i + 1:,}/{a.inputs:,} inputs, {(i + 1) / (now - t0):.0f}/s, {dict(counts)}",
                  file=sys.stderr, flush=True)
            if a.json:  # a checkpoint, so a run cut short still says how far it got
                Path(a.json).write_text(json.dumps(summary(i + 1), indent=1) + "\n", encoding="utf-8")
    doc = summary(a.inputs)
    print(json.dumps(doc, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0 if counts["ok"] == a.inputs else 1


if __name__ == "__main__":
    sys.exit(main())
