"""A two-layer Llama-shaped config small enough to run on a CPU in milliseconds, shared by the torch
measurement tests (tests/test_measure_cpu.py, tests/test_measure_serve.py) so both build the same model."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from jalapeno.models.config import ModelConfig

TINY = ModelConfig(
    name="tiny",
    hf_id="test/tiny",
    architecture="LlamaForCausalLM",
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    num_kv_heads=2,
    head_dim=16,
    intermediate_size=96,
    vocab_size=101,
    tie_embeddings=False,
    max_position_embeddings=512,
    layer_attention=("full", "full"),
)


def tiny_cfg(**kw: Any) -> ModelConfig:
    """``TINY`` with the given fields replaced."""
    return replace(TINY, **kw)
