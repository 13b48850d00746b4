"""Without torch the measure modules still import, and the command says how to install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# ``sys.modules["torch"] = None`` makes ``import torch`` raise ImportError, as on a core-only install.
SCRIPT = """
import sys
sys.modules["torch"] = None
import jalapeno.commands.measure, jalapeno.measure.runner, jalapeno.measure.torch_model
from jalapeno.cli import main
sys.exit(main(["measure", sys.argv[2], "--out", sys.argv[1], "--quick", "--device", "cpu", *sys.argv[3:]]))
"""


@pytest.mark.parametrize(
    "argv", [("all",), ("all", "--json"), ("serve", "--json")], ids=["all", "all-json", "serve-json"]
)
def test_measure_without_torch_exits_2_with_install_hint(tmp_path: Path, argv: tuple[str, ...]) -> None:
    """With --json too: one `error:` line on stderr, nothing on stdout, no file."""
    out = tmp_path / "x.json"
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "error: measure needs torch; install it with: pip install 'jalapeno[measure]'"
    assert p.stdout == "" and not out.exists()


def test_core_cli_does_not_import_torch() -> None:
    code = "import sys, jalapeno.cli, jalapeno.commands.measure; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60, check=False).returncode == 0
