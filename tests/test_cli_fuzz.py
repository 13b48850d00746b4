"""Fuzz every CLI entry point and file format (issue 13): generated invalid command lines
(tests/cli_fuzz_spec.py: out-of-bound and non-numbers, NaN/inf, hostile files and names, unwritable outputs,
unknown options) must each give exit 2 and one ``error:`` line, no traceback, within a time limit. A few
hundred examples here; benchmarks/fuzz_cli.py runs 100,000."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cli_fuzz_spec import COMMANDS, HOSTILE_FILES, generate, generate_valid
from cli_harness import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LIMIT_S = 20


class Hang(BaseException):
    """The time limit's alarm: a BaseException, so no ``except Exception`` under test can swallow it."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def hang(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check(argv: list[str]) -> None:
    with time_limit(LIMIT_S):
        r = run(*argv)
    assert not r.traceback, (argv, r.err[-3000:])
    assert r.code != 0, ("exit 0 on invalid input", argv, r.out[:500])
    assert r.one_error_line, (argv, r.code, r.err[-1000:])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.randoms(use_true_random=False))
def test_generated_invalid_command_lines_are_refused_in_one_line(rng: random.Random) -> None:
    check(generate(rng))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.randoms(use_true_random=False))
def test_generated_in_range_command_lines_answer_without_traceback(rng: random.Random) -> None:
    """In-range values in any combination: a result (exit 0, strict JSON where asked) or one error line."""
    from cli_harness import strict_json

    argv = generate_valid(rng)
    with time_limit(LIMIT_S):
        r = run(*argv)
    assert not r.traceback, (argv, r.err[-3000:])
    assert r.code == 0 or r.one_error_line, (argv, r.code, r.err[-1000:])
    if r.code == 0 and "--json" in argv:
        strict_json(r.out)


@pytest.mark.parametrize("path", HOSTILE_FILES)
def test_every_hostile_file_through_every_file_option(path: str) -> None:
    for cmd in COMMANDS:
        for flag in cmd.files:
            if flag in ("--space", "--workload") or cmd.base[0] == "report":
                continue  # explore's files: in the generated examples (each starts a search if accepted)
            argv = [*cmd.base, path] if flag == "" else [*cmd.base, flag, path]
            check(argv)


def test_the_yaml_python_tag_is_never_evaluated(tmp_path: object) -> None:
    from pathlib import Path

    Path("/tmp/jalapeno_pwned").unlink(missing_ok=True)
    from cli_fuzz_spec import HOSTILE

    for argv in (
        ["hardware", "show", str(HOSTILE / "python_tag.yaml")],
        ["explore", "--space", str(HOSTILE / "python_tag.yaml")],
    ):
        check(argv)
    assert not Path("/tmp/jalapeno_pwned").exists()
