"""Without torch the measure modules still import, and the command says how to install it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# ``sys.modules["torch"] = None`` makes ``import torch`` raise ImportError, as on a core-only install.
SCRIPT = """
import sys
sys.modules["torch"] = None
import jalapeno.commands.measure, jalapeno.measure.runner, jalapeno.measure.torch_model
from jalapeno.cli import main
sys.exit(main(["measure", "all", "--out", sys.argv[1], "--quick", "--device", "cpu"]))
"""


def test_measure_without_torch_exits_2_with_install_hint(tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out)], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == "error: measure needs torch; install it with: pip install 'jalapeno[measure]'"
    assert not out.exists()


def test_core_cli_does_not_import_torch() -> None:
    code = "import sys, jalapeno.cli, jalapeno.commands.measure; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60, check=False).returncode == 0
