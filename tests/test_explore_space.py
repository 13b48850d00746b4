"""The design-space YAML parser: round trips, strict errors, sampling and encoding stay inside ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jalapeno.errors import JalapenoError
from jalapeno.explore.design import build_arch, deployment_of
from jalapeno.explore.space import DEPLOYMENT, bundled_spaces, load_space, space_from_dict, space_to_dict

NAMES = st.from_regex(r"[a-z]{1,6}(\.[a-z_]{1,6}){0,2}", fullmatch=True)


@st.composite
def params(draw):
    kind = draw(st.sampled_from(["int", "float", "choices"]))
    if kind == "choices":
        vals = draw(
            st.lists(
                st.one_of(st.integers(-5, 500), st.text("abcxyz", min_size=1, max_size=5)),
                min_size=1,
                max_size=5,
                unique_by=lambda x: (type(x).__name__, x),
            )
        )
        return {"choices": vals}
    lo = draw(st.integers(1, 100))
    hi = lo + draw(st.integers(0, 1000))
    d = {kind: [lo, hi] if kind == "int" else [float(lo), float(hi)]}
    if draw(st.booleans()):
        d["log"] = True
    levels = draw(st.integers(1, 5))
    if levels != 3:
        d["levels"] = levels
    return d


@st.composite
def spaces(draw):
    # processor knobs never take a deployment knob's name (the parser checks those names' ranges anywhere)
    proc = draw(
        st.dictionaries(NAMES.filter(lambda n: n not in DEPLOYMENT), params(), min_size=1, max_size=5)
    )
    dep = {}
    if draw(st.booleans()):
        dep["tp"] = {"choices": draw(st.lists(st.integers(1, 8), min_size=1, max_size=3, unique=True))}
    if draw(st.booleans()):
        dep["replicas"] = {"int": [1, draw(st.integers(1, 16))]}
    if draw(st.booleans()):
        dep["scheduler"] = {
            "choices": draw(
                st.lists(st.sampled_from(["vllm", "sarathi", "disagg"]), min_size=1, max_size=3, unique=True)
            )
        }
    out = {"name": "s", "base": "base.yaml", "processor": proc, "deployment": dep}
    if draw(st.booleans()):
        out["constraints"] = {"die_area_mm2": 858.0, "tdp_w": float(draw(st.integers(1, 2000)))}
    return out


@settings(max_examples=80, deadline=None)
@given(spaces())
def test_round_trip(data):
    sp = space_from_dict(data)
    again = space_from_dict(space_to_dict(sp))
    assert again == sp
    text = yaml.safe_dump(space_to_dict(sp), sort_keys=False)
    assert space_from_dict(yaml.safe_load(text)) == sp


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces(), st.integers(0, 2**32 - 1))
def test_samples_and_grid_lie_in_the_space(data, seed):
    sp = space_from_dict(data)
    d = sp.sample(np.random.default_rng(seed))
    assert sp.check(d) == d
    v = sp.vector(d)
    assert np.all((v >= -1e-9) & (v <= 1 + 1e-9))
    for p in sp.params:
        assert p.check(p.decode(p.encode(d[p.name]))) == p.decode(p.encode(d[p.name]))
        for g in p.grid():
            p.check(g)
    n = sp.grid_size()
    assert sp.check(sp.grid_point(n - 1))
    assert n == math.prod(len(p.grid()) for p in sp.params)


JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6)),
    lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(spaces(), st.sampled_from(["name", "base", "processor", "deployment", "constraints"]), JUNK)
def test_any_corruption_raises_only_jalapeno_error(data, key, junk):
    """A corrupted section either still describes a valid space (which then round-trips, and keeps the
    sections left alone) or is refused with one line that names the corrupted section."""
    data = dict(data)
    data[key] = junk
    try:
        sp = space_from_dict(data)
    except JalapenoError as e:
        msg = str(e)
        assert e.field is not None and e.field.split(".")[0].split("[")[0] == key, (e.field, key)
        assert msg.startswith(f"{e.field}: ") and "\n" not in msg
        return
    assert space_from_dict(space_to_dict(sp)) == sp
    if key != "name":
        assert sp.name == data["name"]
    if key != "base":
        assert sp.base == data["base"]


@settings(max_examples=100, deadline=None)
@given(JUNK)
def test_junk_raises_only_jalapeno_error(junk):
    with pytest.raises(JalapenoError):
        space_from_dict(junk)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["processor"].update({"x": {"int": [5, 1]}}), "processor.x.int"),
        (lambda d: d["processor"].update({"x": {"int": [1, 5], "choices": [1]}}), "processor.x"),
        (lambda d: d["processor"].update({"x": {"choices": [1, 1]}}), "processor.x.choices"),
        (lambda d: d["processor"].update({"x": {"float": [0, 1], "log": True}}), "processor.x.float"),
        (lambda d: d["deployment"].update({"pp": {"choices": [1]}}), "deployment.pp"),
        (
            lambda d: d["deployment"].update({"scheduler": {"choices": ["fifo"]}}),
            "deployment.scheduler.choices",
        ),
        (lambda d: d["deployment"].update({"tp": {"choices": [0]}}), "deployment.tp.choices"),
        (lambda d: d.update({"constraints": {"reticle": 1}}), "constraints.reticle"),
        (lambda d: d.update({"typo": 1}), "typo"),
    ],
)
def test_errors_name_the_field(mutate, field):
    d = {"name": "s", "base": "b.yaml", "processor": {"cores.count": {"int": [1, 4]}}, "deployment": {}}
    mutate(d)
    with pytest.raises(JalapenoError) as e:
        space_from_dict(d)
    assert e.value.field == field


def test_bundled_space_builds_valid_architectures():
    assert "coding-asic" in bundled_spaces()
    sp = load_space("coding-asic")
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = sp.sample(rng)
        arch = build_arch(sp, d)
        assert arch.cores.physical.value >= arch.cores.count.value
        assert arch.cores.count.value == d["cores.count"]
        assert arch.cores.matrix.rows.value == arch.cores.matrix.cols.value == d["cores.matrix.rows"]
        assert (arch.shared_sram is None) == (d["shared_sram"] == "none")
        dep = deployment_of(sp, d)
        assert dep.chips == d["tp"] * d["replicas"]
        assert "design choice" in arch.cores.count.source


def test_design_check_rejects_out_of_range():
    sp = load_space("coding-asic")
    d = sp.sample(np.random.default_rng(1))
    with pytest.raises(JalapenoError):
        sp.check({**d, "cores.count": 10_000})
    with pytest.raises(JalapenoError):
        sp.check({**d, "memory": "sram"})
    with pytest.raises(JalapenoError):
        sp.check({k: v for k, v in d.items() if k != "tp"})
    with pytest.raises(JalapenoError):
        load_space("no-such-space")


def test_jalapeno1_preset_is_its_design_point():
    from jalapeno.explore.evaluate import chip_checks
    from jalapeno.explore.preset import jalapeno1_text
    from jalapeno.explore.study import DESIGN_FILE, jalapeno1_design
    from jalapeno.hardware import resolve_chip

    path = DESIGN_FILE.parents[2] / "hardware" / "presets" / "arch" / "jalapeno-1.yaml"
    assert path.read_text(encoding="utf-8") == jalapeno1_text()  # regenerating changes nothing
    chip = resolve_chip("jalapeno-1")
    space = load_space("coding-asic")
    assert not chip_checks(chip, space.constraints)
    d = jalapeno1_design()["design"]
    assert space.check(d) == d
    assert chip.arch.cores.count.value == d["cores.count"] and "search" in chip.arch.cores.count.source
