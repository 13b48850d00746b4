"""The house rules as tests: layer contracts over the import graph, and a size budget for code.

The contracts live in ``.importlinter`` (docs/extending.md#layers explains the order); they run here through
import-linter's own command, so ``lint-imports`` on the command line and this test agree. A planted upward
import and a planted cycle prove the check can fail.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import importlinter  # noqa: F401  (pinned in the test extra: without it this file fails, not skips)

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "jalapeno"
CONFIG = ROOT / ".importlinter"

# Size budget. Functions: statements (format-independent; the longest today is mapping/gemm.py ``evaluate``
# at 71, the median 4). Modules: physical lines after `ruff format`; commands/serve.py was split
# (serve_fleet.py: the fleet and its options; serve_output.py: printing and plots) to stay under it.
# STYLE.md aims at ~400; none may grow past the budget.
MAX_FUNCTION_STATEMENTS = 75
MAX_MODULE_LINES = 560
# module or "module:function" -> (its own budget, why); none today
EXCEPTIONS: dict[str, tuple[int, str]] = {}


def lint_imports(src: Path) -> subprocess.CompletedProcess[str]:
    """import-linter's command on the ``jalapeno`` package under ``src``, with this repo's contracts."""
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1"}
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(CONFIG), "--no-cache"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_layer_contracts_are_kept():
    res = lint_imports(ROOT / "src")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "jalapeno layers (docs/extending.md#layers) KEPT" in out
    assert "no import cycles between sibling modules KEPT" in out


def _copy_package(dst: Path) -> Path:
    """The package's Python files only (no data), under ``dst/jalapeno``."""
    shutil.copytree(
        PACKAGE,
        dst / "jalapeno",
        ignore=lambda d, names: [n for n in names if not n.endswith(".py") and not (Path(d) / n).is_dir()],
    )
    return dst


def _plant(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_a_planted_upward_import_and_cycle_break_the_contracts(tmp_path):
    src = _copy_package(tmp_path / "src")
    _plant(src / "jalapeno" / "hardware" / "spec.py", "from jalapeno.serving import simulate  # upward")
    _plant(src / "jalapeno" / "mapping" / "gemm.py", "from jalapeno.mapping import mapper  # imports gemm")
    res = lint_imports(src)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "jalapeno layers (docs/extending.md#layers) BROKEN" in out
    assert "jalapeno.hardware.spec -> jalapeno.serving" in out  # the planted line, named
    assert "no import cycles between sibling modules BROKEN" in out
    assert "No cycles are allowed in jalapeno.mapping" in out


def test_a_new_subpackage_must_be_placed_in_a_layer(tmp_path):
    src = _copy_package(tmp_path / "src")
    (src / "jalapeno" / "newlayer").mkdir()
    (src / "jalapeno" / "newlayer" / "__init__.py").write_text('"""Not yet in .importlinter."""\n')
    res = lint_imports(src)
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "jalapeno.newlayer" in out


def _statements(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Statements in the function, nested ones included (the docstring counts as one): unlike physical
    lines, unchanged by how a formatter wraps calls and literals."""
    return sum(1 for node in ast.walk(fn) if isinstance(node, ast.stmt)) - 1


def _sizes() -> tuple[dict[str, int], dict[str, int]]:
    modules, functions = {}, {}
    for f in sorted(PACKAGE.rglob("*.py")):
        rel = f.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", ".")
        text = f.read_text(encoding="utf-8")
        lines = text.splitlines()
        modules[rel] = len(lines)
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                key = f"{rel}:{node.name}"
                functions[key] = max(functions.get(key, 0), _statements(node))
    return modules, functions


def test_size_budget():
    modules, functions = _sizes()
    assert len(modules) > 100 and len(functions) > 1000  # the walk saw the package
    big_mods = {m: n for m, n in modules.items() if n > EXCEPTIONS.get(m, (MAX_MODULE_LINES, ""))[0]}
    big_fns = {f: n for f, n in functions.items() if n > EXCEPTIONS.get(f, (MAX_FUNCTION_STATEMENTS, ""))[0]}
    assert not big_mods, f"modules over {MAX_MODULE_LINES} lines (split them): {big_mods}"
    assert not big_fns, f"functions over {MAX_FUNCTION_STATEMENTS} statements (split them): {big_fns}"
    assert not set(EXCEPTIONS) - set(modules) - set(functions), "an exception names nothing: drop it"


def test_statement_count_is_the_same_however_the_code_is_wrapped():
    tail = "    if x:\n        return x\n    return 0\n"
    one = 'def f():\n    """Doc."""\n    # comment\n\n    x = g(1, 2)\n' + tail
    wrapped = 'def f():\n    """Doc."""\n    x = g(\n        1,\n        2,\n    )\n' + tail
    counts = []
    for text in (one, wrapped):
        fn = ast.parse(text).body[0]
        assert isinstance(fn, ast.FunctionDef)
        counts.append(_statements(fn))
    assert counts == [5, 5]  # docstring, x = ..., if, return x, return 0
