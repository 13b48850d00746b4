"""One registry per kind of variant: discovery, the one list every place reads, and the protocols' members;
and the serving package's import graph is one-directional (no cycles, no back-pointer)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from jalapeno.errors import JalapenoError
from jalapeno.registry import Registry

SRC = Path(__file__).resolve().parents[1] / "src" / "jalapeno"


def test_a_registry_finds_every_module_of_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "toy_variants"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from jalapeno.registry import Registry\n"
        "TOYS = Registry('toy', field='toy', package='toy_variants')\n"
    )
    for name in ("alpha", "beta"):
        (pkg / f"{name}.py").write_text(
            f"from toy_variants import TOYS\nTOYS.add({name!r}, {len(name)}, 'a {name}')\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import toy_variants

        toys: Registry[int] = toy_variants.TOYS
        assert toys.names() == ("alpha", "beta")  # nothing imported them by hand
        assert toys.get("beta") == 4 and toys.summaries()["alpha"] == "a alpha"
        with pytest.raises(JalapenoError, match=r"^toy: unknown toy 'gamma'; valid: alpha, beta$"):
            toys.get("gamma")
        with pytest.raises(ValueError, match="twice"):
            toys.add("alpha", 99)
    finally:
        for m in [m for m in sys.modules if m.startswith("toy_variants")]:
            del sys.modules[m]


def test_a_lookup_from_another_thread_waits_for_discovery_to_finish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads looking up their first variant at once (a Dask worker's threads, each evaluating its first
    design) both find it: the second waits for the first thread's imports, it does not see a half-filled
    registry (it once answered "unknown engine 'fused'; valid: " with nothing listed)."""
    import threading

    pkg = tmp_path / "slow_variants"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "from jalapeno.registry import Registry\n"
        "SLOW = Registry('slow', field='slow', package='slow_variants')\n"
    )
    # the variant registers after a pause, as a module with heavy imports does
    (pkg / "late.py").write_text(
        "import time\nfrom slow_variants import SLOW\ntime.sleep(0.3)\nSLOW.add('late', 7, 'a late one')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import slow_variants

        reg: Registry[int] = slow_variants.SLOW
        got: list[object] = []

        def look() -> None:
            try:
                got.append(reg.get("late"))
            except JalapenoError as e:
                got.append(str(e))

        first = threading.Thread(target=look)
        first.start()
        while "slow_variants.late" not in sys.modules:  # the first thread is inside discovery
            threading.Event().wait(0.001)
        look()  # this thread, while the first still sleeps in the variant's import
        first.join()
        assert got == [7, 7]
    finally:
        for name in ("slow_variants", "slow_variants.late"):
            sys.modules.pop(name, None)


def test_the_serving_variants_are_one_list_everywhere() -> None:
    from jalapeno.commands.serve import command
    from jalapeno.explore.space import _deployment_choices
    from jalapeno.serving.config import ServingConfig
    from jalapeno.serving.routers.base import ROUTERS, make_router
    from jalapeno.serving.schedulers.base import SCHEDULERS, make_scheduler

    assert SCHEDULERS.names() == ("prefill_first", "sarathi", "vllm")
    assert ROUTERS.names() == ("least_outstanding", "prefix_affinity", "round_robin")
    choices = _deployment_choices()
    assert choices["scheduler"] == (*SCHEDULERS.names(), "disagg") and choices["router"] == ROUTERS.names()
    helps = {p.name: p.help or "" for p in command.params}
    for name in SCHEDULERS.names():
        assert f"{name}: {SCHEDULERS.summaries()[name]}" in helps["scheduler"]
        s = make_scheduler(name, max_num_seqs=7, max_num_batched_tokens=None)
        assert s.max_num_seqs == 7 and callable(s.schedule) and callable(s.admits_more)
        assert s.pad_decode is None or callable(s.pad_decode)  # a protocol member, never found by getattr
        ServingConfig(scheduler=name)
    for name in ROUTERS.names():
        assert name in helps["router"] and callable(make_router(name).choose)
    assert make_scheduler("vllm", max_num_seqs=1, max_num_batched_tokens=None).max_num_batched_tokens == 8192
    assert (
        make_scheduler("sarathi", max_num_seqs=1, max_num_batched_tokens=None).max_num_batched_tokens == 2048
    )
    assert make_scheduler("sarathi", max_num_seqs=1, max_num_batched_tokens=512).max_num_batched_tokens == 512


def test_no_getattr_lookup_of_a_protocol_member() -> None:
    for path in (SRC / "serving").rglob("*.py"):
        assert "getattr(scheduler" not in path.read_text(encoding="utf-8"), path


def _serving_imports() -> dict[str, set[str]]:
    """Every ``jalapeno.serving`` module and the serving modules it imports (TYPE_CHECKING ones too)."""
    graph: dict[str, set[str]] = {}
    for path in (SRC / "serving").rglob("*.py"):
        rel = path.relative_to(SRC.parent).with_suffix("")
        mod = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("jalapeno.serving")
            ):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("jalapeno.serving")}
        graph[mod] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if (
                d == m.rsplit(".", 1)[0] or d not in graph
            ):  # a package's own __init__ (no code) is no edge back
                continue
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state and (found := visit(d)):
                return found
        stack.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return []


def test_the_serving_modules_import_one_way() -> None:
    graph = _serving_imports()
    assert "jalapeno.serving.replica" in graph and "jalapeno.serving.simulate" in graph
    assert _cycle(graph) == []
    assert "jalapeno.serving.simulate" not in graph["jalapeno.serving.replica"]  # no back-pointer
    # the check itself: a planted edge back from the replica to the simulation is a cycle
    graph["jalapeno.serving.replica"].add("jalapeno.serving.simulate")
    cycle = _cycle(graph)
    assert {"jalapeno.serving.replica", "jalapeno.serving.simulate"} <= set(cycle), cycle


def test_step_engines() -> None:
    from jalapeno.cost.engines import ENGINES
    from jalapeno.cost.params import params_for, setup_for
    from jalapeno.hardware import resolve_chip

    assert ENGINES.names() == ("calibration", "fused")
    chip = resolve_chip("h100")
    calibrated = params_for(chip.name)
    assert calibrated.kernels_per_op  # the plain-PyTorch engine's counts, as measured
    assert setup_for(chip, "calibration")[0] == calibrated
    assert setup_for(chip, "fused")[0].kernels_per_op == {}  # one kernel per op
    with pytest.raises(JalapenoError, match="valid: calibration, fused"):
        setup_for(chip, "tensorrt")


def test_chip_kinds_and_their_constants() -> None:
    from jalapeno.hardware.arch.tech import library
    from jalapeno.hardware.kinds import KINDS, TECHNOLOGY_KEYS

    assert KINDS.names() == ("asic", "gpu", "lpu", "tpu")
    assert [KINDS.get(k).static_schedule for k in KINDS.names()] == [True, False, True, True]
    for kind in KINDS.names():
        for key in TECHNOLOGY_KEYS:
            assert library()[f"{key}.{kind}"].source, (key, kind)
