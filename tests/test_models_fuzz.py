"""Fuzz the config importer: any mutation of a valid config gives a ModelConfig or a JalapenoError."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jalapeno.errors import JalapenoError
from jalapeno.models import ModelConfig, count_params, kv_bytes_per_token, parse_hf_config
from jalapeno.models.registry import MODELS

RAW = {
    alias: json.loads(resources.files("jalapeno.models").joinpath("configs", file).read_text())
    for alias, (_, file) in MODELS.items()
}
KEYS = sorted({k for d in RAW.values() for k in d})

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-3, 200), st.text(max_size=20)), max_size=6),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from(["sliding_attention", "full_attention", "FooForCausalLM", "qwen3_moe", "llama"]),
)
small_int = st.integers(min_value=-4, max_value=300)


@st.composite
def mutation(draw: st.DrawFn) -> tuple[str, str, Any]:
    kind = draw(st.sampled_from(["drop", "junk", "small_int", "arch"]))
    key = draw(st.sampled_from(KEYS))
    if kind == "arch":
        return "set", "architectures", draw(st.one_of(junk, st.lists(st.text(max_size=30), max_size=2)))
    if kind == "drop":
        return "drop", key, None
    return "set", key, draw(junk if kind == "junk" else small_int)


def check(d: Any) -> None:
    try:
        cfg = parse_hf_config(d, name="fuzz")
    except JalapenoError:
        return
    assert isinstance(cfg, ModelConfig)
    assert len(cfg.layer_attention) == cfg.num_layers
    if cfg.num_layers <= 1000:  # the counts must not crash on anything the parser accepts
        assert count_params(cfg).total > 0
        assert kv_bytes_per_token(cfg) > 0


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alias=st.sampled_from(sorted(RAW)), mutations=st.lists(mutation(), min_size=1, max_size=4))
def test_mutated_configs_parse_or_raise_jalapeno_error(
    alias: str, mutations: list[tuple[str, str, Any]]
) -> None:
    d = copy.deepcopy(RAW[alias])
    for op, key, value in mutations:
        if op == "drop":
            d.pop(key, None)
        else:
            d[key] = value
    check(d)


@settings(max_examples=150, deadline=None)
@given(d=st.one_of(junk, st.dictionaries(st.sampled_from(KEYS), junk, max_size=12)))
def test_arbitrary_input_parses_or_raises_jalapeno_error(d: Any) -> None:
    check(d)
