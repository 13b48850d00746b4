"""Run the ``jalapeno`` CLI in-process, the way a shell does (``cli.main``: exit code, stdout, stderr), for
the error-path tests and the fuzz suite (tests/test_cli_errors.py, tests/test_cli_fuzz.py,
benchmarks/fuzz_cli.py)."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

from click.testing import CliRunner

from jalapeno.cli import main


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.err

    @property
    def one_error_line(self) -> bool:
        """The bad-input contract: exit 2, stderr ends with exactly one ``error:`` line, nothing else
        after."""
        lines = [ln for ln in self.err.splitlines() if ln.strip()]
        return (
            self.code == 2
            and bool(lines)
            and lines[-1].startswith("error: ")
            and sum(ln.startswith("error: ") for ln in lines) == 1
            and not self.traceback
        )


def run(*argv: str) -> Outcome:
    """One invocation in CliRunner's isolation (stdin empty, stdout/stderr captured, not a terminal)."""
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            code = main(list(argv))
        except SystemExit as e:  # never expected: main returns codes
            code = e.code if isinstance(e.code, int) else 1
        except Exception:
            import traceback

            code = 1
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        return Outcome(
            code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")
        )


def strict_json(text: str) -> Any:
    """Parse JSON refusing NaN and Infinity tokens, and check no float in it is non-finite."""

    def bad(token: str) -> Any:
        raise ValueError(f"non-finite number {token} in JSON output")

    doc = json.loads(text, parse_constant=bad)
    _finite(doc)
    return doc


def _finite(x: Any) -> None:
    if isinstance(x, float):
        assert math.isfinite(x), x
    elif isinstance(x, dict):
        for v in x.values():
            _finite(v)
    elif isinstance(x, list):
        for v in x:
            _finite(v)
