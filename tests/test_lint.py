"""The house rules a tool can check: ruff (rules and the 110-column limit of pyproject.toml) and mypy
(the whole package; hardware, models, graph and cost with every ``--strict`` flag).

Both run as CI runs them, from the repository root, with the pinned versions of the ``test`` extra
(``pip install -e '.[test]'``); a test skips, saying so, only where the tool is not installed. mypy's cache
lives in the temp dir, so a second local run is incremental (a few seconds) and CI starts cold.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRICT_PACKAGES = ("hardware", "models", "graph", "cost")
# what `mypy --strict` turns on (mypy 2.4 `--help`), split into the global and the per-module part
STRICT_GLOBAL = (
    "check_untyped_defs",
    "warn_redundant_casts",
    "warn_unused_ignores",
    "strict_equality",
    "extra_checks",
)
STRICT_PER_MODULE = (
    "disallow_any_generics",
    "disallow_subclassing_any",
    "disallow_untyped_calls",
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "disallow_untyped_decorators",
    "warn_return_any",
    "no_implicit_reexport",
)


def _tool(name: str) -> list[str]:
    """``python -m NAME`` of this interpreter, or skip when the test extra is not installed."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed: pip install -e '.[test]' pins it")
    return [sys.executable, "-m", name]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def _mypy_cache() -> str:
    return str(Path(tempfile.gettempdir()) / "jalapeno-mypy-cache")


def test_ruff_is_clean() -> None:
    # E501 included: until the whole tree is `ruff format`ted once, the long lines it wraps fail here
    res = _run([*_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "src", "tests"])
    assert res.returncode == 0, f"ruff check src tests:\n{res.stdout[-6000:]}{res.stderr[-2000:]}"


def test_ruff_config_catches_a_planted_finding(tmp_path: Path) -> None:
    """The rule set is live: a zip without strict= (bugbear) and a 111-column line (E501) are reported."""
    bad = tmp_path / "planted.py"
    bad.write_text(
        "def f(a: list[int], b: list[int]) -> list[tuple[int, int]]:\n"
        "    return list(zip(a, b))\n"
        f"X = {'1' * 107}\n"
    )
    res = _run(
        [
            *_tool("ruff"),
            "check",
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--output-format",
            "concise",
            str(bad),
        ]
    )
    assert res.returncode == 1
    assert "B905" in res.stdout and "E501" in res.stdout, res.stdout


def test_mypy_is_clean() -> None:
    """One run over the package with the pyproject configuration: the strict flags on the four layers."""
    res = _run([*_tool("mypy"), "--cache-dir", _mypy_cache()])
    assert res.returncode == 0, f"mypy:\n{res.stdout[-6000:]}{res.stderr[-2000:]}"


def test_mypy_strict_on_the_lowest_layers() -> None:
    """The issue's criterion as written: ``mypy --strict`` on hardware, models, graph and cost (and on the
    modules they import), independent of the per-module configuration."""
    paths = [f"src/jalapeno/{p}" for p in STRICT_PACKAGES]
    res = _run([*_tool("mypy"), "--strict", "--cache-dir", _mypy_cache() + "-strict", *paths])
    assert res.returncode == 0, f"mypy --strict {' '.join(paths)}:\n{res.stdout[-6000:]}{res.stderr[-2000:]}"


def test_mypy_configuration_keeps_every_strict_flag() -> None:
    """Weakening the configuration (dropping a flag or a layer) fails here, not silently."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert all(conf.get(flag) is True for flag in STRICT_GLOBAL), conf
    strict = [o for o in conf["overrides"] if all(o.get(flag) is True for flag in STRICT_PER_MODULE)]
    modules = {m for o in strict for m in o["module"]}
    assert modules >= {f"jalapeno.{p}.*" for p in STRICT_PACKAGES}, modules
