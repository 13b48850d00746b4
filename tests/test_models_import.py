"""Hugging Face config.json import: bundled configs, per-architecture fields, resolution, errors, CLI."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.models import ModelConfig, list_models, parse_hf_config, resolve_model
from jalapeno.models.hf_import import SUPPORTED_ARCHITECTURES
from jalapeno.models.registry import MODELS


def raw(alias: str) -> dict[str, Any]:
    """The bundled config.json of an alias, as a fresh dict."""
    text = resources.files("jalapeno.models").joinpath("configs", MODELS[alias][1]).read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def parse(d: dict[str, Any]) -> ModelConfig:
    return parse_hf_config(d, name="t")


# ---- bundled configs ----


def test_at_least_18_bundled_and_every_file_listed() -> None:
    files = {p.name for p in resources.files("jalapeno.models").joinpath("configs").iterdir()}
    assert len(list_models()) >= 18
    assert files == {file for _, file in MODELS.values()}


@pytest.mark.parametrize("alias", list_models())
def test_every_bundled_config_parses(alias: str) -> None:
    cfg = resolve_model(alias)
    assert cfg.name == alias
    assert cfg.hf_id == MODELS[alias][0]
    assert cfg.architecture in SUPPORTED_ARCHITECTURES
    assert len(cfg.layer_attention) == cfg.num_layers
    assert cfg.num_heads % cfg.num_kv_heads == 0
    assert cfg.source.startswith("bundled:")


def test_every_supported_architecture_is_bundled() -> None:
    assert {resolve_model(a).architecture for a in list_models()} == set(SUPPORTED_ARCHITECTURES)


# ---- architecture-specific fields ----


def test_gpt_oss_120b() -> None:
    cfg = resolve_model("gpt-oss-120b")
    assert cfg.num_layers == 36
    assert cfg.layer_attention == ("sliding", "full") * 18
    assert cfg.sliding_window == 128
    assert cfg.attention_sinks and cfg.qkv_bias and cfg.o_bias
    assert cfg.head_dim == 64 and cfg.num_heads == 64 and cfg.num_kv_heads == 8
    assert cfg.moe is not None
    assert (cfg.moe.num_experts, cfg.moe.experts_per_token) == (128, 4)
    assert cfg.moe.expert_intermediate_size == 2880
    assert cfg.moe.router_bias and cfg.moe.expert_bias


def test_gpt_oss_default_layer_types_alternate() -> None:
    d = raw("gpt-oss-20b")
    del d["layer_types"]
    assert parse(d).layer_attention == ("sliding", "full") * 12


def test_deepseek_v3() -> None:
    cfg = resolve_model("deepseek-v3")
    assert cfg.num_layers == 61
    assert [cfg.is_moe_layer(i) for i in range(5)] == [False, False, False, True, True]
    assert all(cfg.is_moe_layer(i) for i in range(3, 61))
    assert cfg.mla is not None and cfg.moe is not None
    assert (cfg.mla.q_lora_rank, cfg.mla.kv_lora_rank) == (1536, 512)
    assert (cfg.mla.qk_nope_head_dim, cfg.mla.qk_rope_head_dim, cfg.mla.v_head_dim) == (128, 64, 128)
    assert cfg.head_dim == 192
    assert (cfg.moe.num_experts, cfg.moe.experts_per_token, cfg.moe.num_shared_experts) == (256, 8, 1)
    assert cfg.moe.expert_intermediate_size == 2048 and cfg.moe.first_dense_layers == 3
    assert cfg.moe.router_bias  # noaux_tc's e_score_correction_bias
    assert cfg.intermediate_size == 18432


def test_deepseek_null_q_lora_rank_is_plain_q_proj() -> None:
    d = raw("deepseek-v3")
    d["q_lora_rank"] = None
    cfg = parse(d)
    assert cfg.mla is not None and cfg.mla.q_lora_rank is None


def test_mistral_7b_slides_every_layer() -> None:
    cfg = resolve_model("mistral-7b")
    assert cfg.sliding_window == 4096
    assert set(cfg.layer_attention) == {"sliding"}


def test_mixtral_null_window_is_full_attention() -> None:
    cfg = resolve_model("mixtral-8x7b")
    assert cfg.sliding_window is None and set(cfg.layer_attention) == {"full"}
    assert cfg.moe is not None and (cfg.moe.num_experts, cfg.moe.experts_per_token) == (8, 2)


def test_qwen2_bias_and_use_sliding_window_false() -> None:
    cfg = resolve_model("qwen2.5-coder-7b")
    assert cfg.qkv_bias and not cfg.o_bias
    assert cfg.sliding_window is None and set(cfg.layer_attention) == {"full"}


def test_qwen2_max_window_layers_respected() -> None:
    d = raw("qwen2.5-coder-7b")
    d.update(use_sliding_window=True, max_window_layers=20, sliding_window=4096)
    cfg = parse(d)
    assert cfg.layer_attention == ("full",) * 20 + ("sliding",) * 8
    assert cfg.sliding_window == 4096


def test_qwen3_qk_norm_and_explicit_head_dim() -> None:
    cfg = resolve_model("qwen3-32b")
    assert cfg.qk_norm and cfg.head_dim == 128 and cfg.num_heads * cfg.head_dim != cfg.hidden_size


def test_qwen3_moe_fields() -> None:
    cfg = resolve_model("qwen3-coder-480b-a35b")
    assert cfg.qk_norm and cfg.moe is not None
    moe = cfg.moe
    assert (moe.num_experts, moe.experts_per_token, moe.expert_intermediate_size) == (160, 8, 2560)
    assert all(cfg.is_moe_layer(i) for i in range(cfg.num_layers))


def test_qwen3_moe_mlp_only_prefix_becomes_dense_layers() -> None:
    d = raw("qwen3-coder-30b-a3b")
    d["mlp_only_layers"] = [0, 1]
    cfg = parse(d)
    assert cfg.moe is not None and cfg.moe.first_dense_layers == 2
    assert not cfg.is_moe_layer(1) and cfg.is_moe_layer(2)


def test_qwen3_moe_unrepresentable_pattern_is_refused() -> None:
    d = raw("qwen3-coder-30b-a3b")
    d["decoder_sparse_step"] = 2  # HF: layers 1, 3, 5, ... are sparse
    with pytest.raises(JalapenoError, match="mlp_only_layers"):
        parse(d)


def test_defaults_head_dim_and_kv_heads() -> None:
    d = raw("codellama-7b")
    del d["num_key_value_heads"]
    cfg = parse(d)
    assert cfg.num_kv_heads == cfg.num_heads == 32
    assert cfg.head_dim == 4096 // 32
    assert resolve_model("llama-3.1-8b").head_dim == 128


def test_tied_embeddings() -> None:
    assert resolve_model("llama-3.2-1b").tie_embeddings
    assert not resolve_model("llama-3.1-8b").tie_embeddings


def test_model_type_stands_in_for_missing_architectures() -> None:
    d = raw("llama-3.1-8b")
    del d["architectures"]
    assert parse(d).architecture == "LlamaForCausalLM"


# ---- resolution ----


def test_resolve_by_hf_id_case_insensitive() -> None:
    assert resolve_model("META-LLAMA/llama-3.1-8b-instruct").name == "llama-3.1-8b"
    assert resolve_model("Qwen3-8B".lower()) is resolve_model("qwen3-8b")


def test_resolve_path_to_file_and_directory(tmp_path: Path) -> None:
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps(raw("mistral-7b")))
    by_dir, by_file = resolve_model(str(model_dir)), resolve_model(str(model_dir / "config.json"))
    assert by_dir == by_file
    assert by_dir.name == "my-model" and by_dir.sliding_window == 4096


def test_unknown_name_lists_aliases_and_suggests() -> None:
    with pytest.raises(JalapenoError) as e:
        resolve_model("llama-3.1-8")
    assert "llama-3.1-8b" in str(e.value) and "Did you mean" in str(e.value)
    assert "gpt-oss-120b" in str(e.value)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '"text"'])
def test_bad_file_content(tmp_path: Path, content: str) -> None:
    f = tmp_path / "config.json"
    f.write_text(content)
    with pytest.raises(JalapenoError):
        resolve_model(str(f))


# ---- errors name the field ----


def _mutated(alias: str, **changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(raw(alias))
    for key, value in changes.items():
        if value is ...:
            d.pop(key, None)
        else:
            d[key] = value
    return d


def test_unknown_architecture_lists_supported() -> None:
    with pytest.raises(JalapenoError) as e:
        parse(_mutated("llama-3.1-8b", architectures=["FooForCausalLM"]))
    assert "FooForCausalLM" in str(e.value)
    assert all(arch in str(e.value) for arch in SUPPORTED_ARCHITECTURES)


@pytest.mark.parametrize(
    ("alias", "key", "value", "words"),
    [
        ("llama-3.1-8b", "hidden_size", ..., "missing"),
        ("llama-3.1-8b", "hidden_size", "4096", "integer"),
        ("llama-3.1-8b", "hidden_size", 4096.0, "integer"),
        ("llama-3.1-8b", "num_hidden_layers", -2, ">= 1"),
        ("llama-3.1-8b", "vocab_size", 0, ">= 1"),
        ("llama-3.1-8b", "num_key_value_heads", 5, "not divisible"),
        ("llama-3.1-8b", "tie_word_embeddings", "no", "true or false"),
        ("mixtral-8x7b", "num_local_experts", ..., "missing"),
        ("mixtral-8x7b", "num_experts_per_tok", 9, "exceeds"),
        ("deepseek-v3", "kv_lora_rank", ..., "missing"),
        ("deepseek-v3", "first_k_dense_replace", -1, ">= 0"),
        ("gpt-oss-120b", "layer_types", ["sliding_attention"], "entries"),
        ("gpt-oss-120b", "layer_types", ["window"] * 36, "unknown"),
        ("qwen3-coder-30b-a3b", "mlp_only_layers", "all", "list"),
        ("codellama-7b", "head_dim", -64, ">= 1"),
    ],
)
def test_bad_field_is_named(alias: str, key: str, value: Any, words: str) -> None:
    with pytest.raises(JalapenoError) as e:
        parse(_mutated(alias, **{key: value}))
    assert e.value.field == key
    assert words in str(e.value)


def test_sliding_layer_without_window() -> None:
    with pytest.raises(JalapenoError) as e:
        parse(_mutated("llama-3.1-8b", layer_types=["sliding_attention"] * 32))
    assert e.value.field == "sliding_window"


def test_indivisible_hidden_without_head_dim() -> None:
    with pytest.raises(JalapenoError, match="head_dim"):
        parse(_mutated("codellama-7b", num_attention_heads=30, num_key_value_heads=30))


# ---- CLI ----


def test_cli_unknown_model_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "show", "no-such-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_cli_json_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = doc["models"]  # every command's JSON is an object: schema first, a list under its plural name
    assert doc["schema"] == "jalapeno.models/2" and [r["name"] for r in rows] == list_models()
    by_name = {r["name"]: r for r in rows}
    required = {
        "name",
        "hf_id",
        "architecture",
        "params_total",
        "params_active",
        "kv_bytes_per_token",
        "layers",
        "hidden_size",
        "moe",
    }
    assert all(required <= set(r) for r in rows)
    assert by_name["llama-3.1-8b"]["kv_bytes_per_token"] == 131072
    assert by_name["llama-3.1-8b"]["moe"] is None
    assert by_name["gpt-oss-120b"]["moe"]["experts"] == 128 and by_name["gpt-oss-120b"]["moe"]["active"] == 4


def by_name_total(name: str) -> int:
    from jalapeno.commands.models import summary

    return summary(resolve_model(name))["params_total"]


def test_cli_table_and_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "deepseek-v3" in out and "MLA" in out
    assert main(["models", "show", "mistral-7b"]) == 0
    assert "sliding_window" in capsys.readouterr().out
    assert main(["models", "show", "deepseek-ai/DeepSeek-V3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config"]["mla"]["kv_lora_rank"] == 512
    # `models show` is a `models --json` row plus its config: one shape for one model
    assert shown["schema"] == "jalapeno.models.show/2" and shown["name"] == "deepseek-v3"
    assert shown["params_total"] == by_name_total("deepseek-v3")
