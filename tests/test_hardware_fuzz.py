"""Fuzzing the chip loader: any input gives a ``ChipSpec`` or a one-line ``JalapenoError``, never another
exception."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jalapeno.errors import JalapenoError
from jalapeno.hardware import ChipSpec, chip_from_dict, chip_to_dict, list_presets, load_chip, resolve_chip

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["989e12", "1e3", "-5", "nan", "inf", "0", "sram", "hbm3"])
)
keys = st.text(max_size=12) | st.sampled_from(
    ["name", "value", "source", "memory", "matrix_flops", "tdp_w", "bf16", "kind", "capacity_bytes"]
)
yamlish = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)


def check(load: Any, arg: Any) -> None:
    try:
        assert isinstance(load(arg), ChipSpec)
    except JalapenoError as e:
        assert "\n" not in str(e), str(e)
        assert e.field is None or isinstance(e.field, str)


def node_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys and indices) to a node below the root."""
    out = []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        out.append((*prefix, k))
        out.extend(node_paths(v, (*prefix, k)))
    return out


def mutate(d: dict, path: tuple, op: str, new: Any) -> None:
    parent = d
    for k in path[:-1]:
        parent = parent[k]
    key = path[-1]
    if op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{key}x" if isinstance(key, str) else "x"] = parent.pop(key)
    elif op == "negate" and isinstance(parent[key], int | float) and not isinstance(parent[key], bool):
        parent[key] = -parent[key]
    elif op == "stringify":
        parent[key] = str(parent[key])
    else:
        parent[key] = new


@st.composite
def mutated_presets(draw: st.DrawFn) -> dict:
    d = copy.deepcopy(chip_to_dict(resolve_chip(draw(st.sampled_from(list_presets())))))
    for _ in range(draw(st.integers(1, 3))):
        paths = node_paths(d)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["delete", "rename", "retype", "negate", "stringify"]))
        mutate(d, path, op, draw(yamlish))
    return d


@FUZZ
@given(yamlish)
def test_random_data(data: Any) -> None:
    check(chip_from_dict, data)


@FUZZ
@given(st.text(max_size=200) | yamlish.map(lambda d: yaml.safe_dump(d)))
def test_random_text(text: str) -> None:
    check(load_chip, text)


@FUZZ
@given(mutated_presets())
def test_mutated_presets(d: dict) -> None:
    check(chip_from_dict, d)


@settings(max_examples=60, deadline=None)
@given(mutated_presets())
def test_mutated_presets_through_yaml(d: dict) -> None:
    check(load_chip, yaml.safe_dump(d))


@settings(max_examples=100, deadline=None)
@given(st.floats(min_value=1e-30, max_value=1e30, allow_nan=False, allow_infinity=False))
def test_any_positive_figure_round_trips(x: float) -> None:
    d = chip_to_dict(resolve_chip("h100"))
    d["memory"][0]["bandwidth_bytes_per_s"]["value"] = x
    d["tdp_w"]["value"] = str(x)  # numeric strings are numbers
    chip = chip_from_dict(d)
    assert chip.memory_bandwidth_bytes_per_s == x and chip.tdp_w.value == x
