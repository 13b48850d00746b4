"""docs/extending.md's worked examples, run as written: a shortest-job-first scheduler and a wafer-scale chip
kind, each one module (its code is taken from the page), registered in a temporary module and used end to
end."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from test_serving_helpers import Req

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.serving import simulate
from jalapeno.serving.analytic import AffineOracle

DOC = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
ORACLE = AffineOracle(fixed_s=0.01, per_token_s=1e-4, per_context_s=1e-6, per_pair_s=1e-8)


def doc_module(path_comment: str, tmp_path: Path, name: str) -> ModuleType:
    """Import the page's code block whose first line is ``# <path_comment>`` as module ``name``."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    code = next(b for b in blocks if b.startswith(f"# {path_comment}\n"))
    file = tmp_path / f"{name}.py"
    file.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# --- a scheduler ------------------------------------------------------------------------------------------
@pytest.fixture
def sjf(tmp_path: Path) -> Iterator[ModuleType]:
    from jalapeno.serving.schedulers.base import SCHEDULERS

    mod = doc_module("src/jalapeno/serving/schedulers/sjf.py", tmp_path, "jalapeno_doc_sjf")
    try:
        yield mod
    finally:
        SCHEDULERS.remove("sjf")
        sys.modules.pop("jalapeno_doc_sjf", None)
    assert "sjf" not in SCHEDULERS


def prefill_s(prompt: int) -> float:
    o = ORACLE
    return o.fixed_s + o.per_token_s * prompt + o.per_pair_s * (prompt * (prompt + 1) // 2)


def finish_s(scheduler: str) -> list[float]:
    reqs = [Req(0, 0.0, 3000, 1), Req(1, 0.0, 2000, 1), Req(2, 0.0, 1000, 1)]
    res = simulate(reqs, ORACLE, scheduler=scheduler, max_num_seqs=1)
    assert res.completed == 3
    cols = res.per_request
    return [float(cols["e2e_s"][list(cols["request_id"]).index(i)]) for i in range(3)]


def test_shortest_job_first_serves_the_shorter_prompt_first(sjf: ModuleType) -> None:
    p3, p2, p1 = prefill_s(3000), prefill_s(2000), prefill_s(1000)
    assert finish_s("vllm") == pytest.approx([p3, p3 + p2, p3 + p2 + p1], rel=1e-12)  # arrival order
    assert finish_s("sjf") == pytest.approx([p3, p3 + p1 + p2, p3 + p1], rel=1e-12)  # 1,000 before 2,000


def test_a_registered_scheduler_is_a_cli_choice(sjf: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    args = [
        "serve",
        "-t",
        "azure-code",
        "--limit",
        "40",
        "-m",
        "llama-3.2-1b",
        "--hardware",
        "h100",
        "--json",
    ]
    assert main([*args, "--scheduler", "sjf"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["deployment"]["scheduler"] == "sjf" and doc["completed"] == 40
    assert main([*args, "--scheduler", "sjff"]) == 2
    assert (
        "prefill_first, sarathi, sjf, vllm" in capsys.readouterr().err
    )  # the valid names, from the registry


# --- a chip kind ------------------------------------------------------------------------------------------
@pytest.fixture
def wafer(tmp_path: Path) -> Iterator[ModuleType]:
    from jalapeno.hardware.arch import tech
    from jalapeno.hardware.kinds import KINDS

    mod = doc_module("src/jalapeno/hardware/kinds/wafer.py", tmp_path, "jalapeno_doc_wafer")
    tech._load.cache_clear()  # the technology library adds the new kind's constants when it loads
    try:
        yield mod
    finally:
        KINDS.remove("wafer")
        sys.modules.pop("jalapeno_doc_wafer", None)
        tech._load.cache_clear()


def groq_as(kind: str, tmp_path: Path):
    from jalapeno.hardware.arch import _dir, derive_chip, resolve_arch

    text = (_dir() / "groq-lpu-arch.yaml").read_text(encoding="utf-8")
    assert "\nkind: lpu\n" in text
    text = text.replace("\nkind: lpu\n", f"\nkind: {kind}\n").replace(
        "name: groq-lpu-arch", f"name: groq-as-{kind}"
    )
    path = tmp_path / f"groq-as-{kind}.yaml"
    path.write_text(text, encoding="utf-8")
    return derive_chip(resolve_arch(path))


def test_a_kind_with_asics_constants_prices_a_step_as_asic(wafer: ModuleType, tmp_path: Path) -> None:
    from jalapeno.cost.estimate import estimate
    from jalapeno.models import resolve_model

    model = resolve_model("llama-3.2-1b")
    chips = {k: groq_as(k, tmp_path) for k in ("wafer", "asic")}
    assert chips["wafer"].kind == "wafer"
    steps = {
        k: estimate(model, c, batch=8, context=1000, tp=16) for k, c in chips.items()
    }  # 220 MiB of SRAM a chip
    w, a = steps["wafer"].decode, steps["asic"].decode
    assert w.time_s > 0 and w.energy_j > 0
    assert (w.time_s, w.energy_j) == (a.time_s, a.energy_j)
    assert chips["wafer"].tdp_w.value == chips["asic"].tdp_w.value
    assert chips["wafer"].die_area_mm2.value == chips["asic"].die_area_mm2.value
    # not vacuous: the kind's constants reach the figures (control logic: lpu 30 mm2 a core at N7, asic 6)
    from jalapeno.hardware.arch import model

    area = {k: model.area(groq_as(k, tmp_path).arch) for k in ("lpu", "asic")}
    assert area["lpu"]["control"].value == pytest.approx(5 * area["asic"]["control"].value, rel=1e-12)
    grew = area["lpu"]["control"].value - area["asic"]["control"].value
    assert area["lpu"]["total"].value - area["asic"]["total"].value == pytest.approx(
        grew / (1 - 0.12), rel=1e-12
    )


def test_a_kind_is_a_valid_chip_kind_and_a_missing_constant_is_refused(
    wafer: ModuleType, tmp_path: Path
) -> None:
    from jalapeno.hardware.arch import tech
    from jalapeno.hardware.kinds import KINDS, ChipKindSpec

    assert "wafer" in KINDS.names() and KINDS.get("wafer").static_schedule
    with pytest.raises(JalapenoError, match="asic, gpu, lpu, tpu, wafer"):
        groq_as("wafr", tmp_path)
    KINDS.add("bare", ChipKindSpec(static_schedule=True))
    tech._load.cache_clear()
    try:
        with pytest.raises(JalapenoError, match=r"core_control_mm2\.bare"):
            tech.library()
    finally:
        KINDS.remove("bare")
        tech._load.cache_clear()
