"""Blocks of a docs page that a command writes, re-run and compared by the suite (issue 15).

A page marks the output of a fast command (seconds, no search, no sweep) as::

    <!-- generated:begin `COLUMNS=120 jalapeno hardware` -->
    ```
    ...exactly what the command prints...
    ```
    <!-- generated:end -->

The command is one of ``[COLUMNS=N] jalapeno ARGS`` (the CLI, run in-process), ``python -m MODULE ARGS`` or
``python scripts/NAME.py ARGS``; the block holds its standard output with trailing spaces stripped, inside a
code fence when the begin marker is followed by one. ``refresh`` rewrites every block of a page
(``scripts/regen_snapshots.py``); ``stale`` lists the blocks whose text differs from a fresh run
(tests/test_doc_figures.py), so a figure in a block cannot move without the code that prints it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import shlex
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # colour codes, should a CI force colour (FORCE_COLOR)
_BLOCK = re.compile(
    r"^<!-- generated:begin `([^`]+)` -->\n(.*?)^<!-- generated:end -->", re.DOTALL | re.MULTILINE
)  # own lines


@dataclass(frozen=True)
class Block:
    command: str
    body: str  # the text between the markers
    start: int  # offsets of the body in the page
    end: int

    @property
    def fenced(self) -> bool:
        return self.body.startswith("```")


def blocks(text: str) -> list[Block]:
    return [Block(m.group(1), m.group(2), m.start(2), m.end(2)) for m in _BLOCK.finditer(text)]


def run(command: str, root: Path) -> str:
    """Standard output of a block's command, run in this process from the repository ``root``, trailing spaces
    and colour codes stripped."""
    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    out = io.StringIO()
    saved_env, saved_argv = {k: os.environ.get(k) for k in {*env, "COLUMNS"}}, sys.argv
    try:
        os.environ.update(env)
        with contextlib.redirect_stdout(out), contextlib.chdir(root):  # paths in commands are from the root
            _invoke(words, root)
    finally:
        sys.argv = saved_argv
        for k, old in saved_env.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
    text = _ANSI.sub("", out.getvalue())
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines()) + "\n"


def _invoke(words: list[str], root: Path) -> None:
    if words[0] == "jalapeno":
        from jalapeno.cli import main

        rc = main(words[1:])
    elif words[:2] == ["python", "-m"]:
        sys.argv = words[2:]
        with (
            warnings.catch_warnings()
        ):  # the module may be imported already (a test imported it): harmless here
            warnings.simplefilter("ignore", RuntimeWarning)
            rc = _run(lambda: runpy.run_module(words[2], run_name="__main__", alter_sys=True))
    elif words[0] == "python" and words[1].startswith("scripts/"):
        sys.argv = words[1:]
        rc = _run(lambda: runpy.run_path(str(root / words[1]), run_name="__main__"))
    else:
        raise ValueError(
            f"a generated block's command must be jalapeno, python -m or python scripts/: {words}"
        )
    if rc:
        raise RuntimeError(f"`{' '.join(words)}` exited with {rc}")


def _run(fn) -> int:
    try:
        fn()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def render(block: Block, output: str) -> str:
    return f"```\n{output}```\n" if block.fenced else output


def refresh(text: str, root: Path) -> str:
    """The page with every generated block rewritten from a fresh run of its command."""
    for b in reversed(blocks(text)):
        text = text[: b.start] + render(b, run(b.command, root)) + text[b.end :]
    return text


def stale(text: str, root: Path) -> list[str]:
    """The commands whose block differs from a fresh run."""
    return [b.command for b in blocks(text) if b.body != render(b, run(b.command, root))]
