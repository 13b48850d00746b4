"""A Hugging Face id that is not bundled resolves from the local hub cache, offline (issue 13, item 5), by
huggingface_hub's precedence: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else
~/.cache/huggingface/hub; refs/main picks the snapshot."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest
from cli_harness import run

from jalapeno.errors import JalapenoError
from jalapeno.models import resolve_model
from jalapeno.models.hf_cache import cached_config, hub_cache

LLAMA_1B = json.loads(resources.files("jalapeno.models").joinpath("configs", "llama-3.2-1b.json").read_text())


def _cache_model(hub: Path, hf_id: str, commit: str, layers: int, *, ref: bool = True) -> Path:
    org, name = hf_id.split("/")
    repo = hub / f"models--{org}--{name}"
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({**LLAMA_1B, "num_hidden_layers": layers}))
    if ref:
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(commit + "\n")
    return snap / "config.json"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_cache_location_follows_huggingface_hub(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub_cache() == env / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("XDG_CACHE_HOME", str(env / "xdg"))
    assert hub_cache() == env / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(env / "hfhome"))
    assert hub_cache() == env / "hfhome" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(env / "hub"))
    assert hub_cache() == env / "hub"


def test_uncached_id_resolves_from_the_cache_offline(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(env / "hf"))
    path = _cache_model(env / "hf" / "hub", "acme/Tiny-Llama", "0123abcd", layers=4)
    cfg = resolve_model("acme/Tiny-Llama")
    assert cfg.num_layers == 4 and cfg.hf_id == "acme/Tiny-Llama" and cfg.source == f"hf-cache:{path}"
    r = run("estimate", "-m", "acme/Tiny-Llama", "--json")
    assert r.code == 0 and json.loads(r.out)["model_source"] == f"hf-cache:{path}"


def test_refs_main_picks_the_snapshot_else_the_newest(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = env / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    old = _cache_model(hub, "acme/m", "aaaa1111", layers=2)
    _cache_model(hub, "acme/m", "bbbb2222", layers=6, ref=False)
    os.utime(old, (1, 1))
    assert resolve_model("acme/m").num_layers == 2  # refs/main says aaaa1111, though bbbb2222 is newer
    (hub / "models--acme--m" / "refs" / "main").unlink()
    assert resolve_model("acme/m").num_layers == 6  # no ref: the newest snapshot


def test_bundled_wins_and_bad_ids_are_not_looked_up(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub = env / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    _cache_model(hub, "meta-llama/Llama-3.2-1B-Instruct", "cccc3333", layers=3)
    assert resolve_model("meta-llama/Llama-3.2-1B-Instruct").num_layers == 16  # the bundled copy
    for bad in ("../etc", "acme/../x", "acme", "a/b/c", "acme/m--x/../y"):
        assert cached_config(bad) is None
    with pytest.raises(JalapenoError, match="local cache"):
        resolve_model("acme/not-downloaded")
    r = run("estimate", "-m", "acme/not-downloaded")
    assert r.one_error_line and str(hub) in r.err


def test_kimi_k2_model_type_parses_as_the_deepseek_v3_layout() -> None:
    """Kimi K2 ships DeepSeek-V3's layout with model_type kimi_k2: without `architectures` it still parses,
    and the DeepSeek-V3 shape with 384 experts and 64 heads counts more expert and fewer attention weights."""
    from jalapeno.models import count_params, parse_hf_config

    base = json.loads(resources.files("jalapeno.models").joinpath("configs", "deepseek-v3.json").read_text())
    ds = parse_hf_config(base, name="ds")
    kimi_like = {k: v for k, v in base.items() if k not in ("architectures", "auto_map")}
    kimi_like.update(
        model_type="kimi_k2", n_routed_experts=384, num_attention_heads=64, num_key_value_heads=64
    )
    k = parse_hf_config(kimi_like, name="k")
    assert k.mla == ds.mla and k.moe is not None and ds.moe is not None
    assert (k.moe.num_experts, ds.moe.num_experts, k.num_heads, ds.num_heads) == (384, 256, 64, 128)
    # 128 more routed experts in each MoE layer outweigh the attention projections of 64 fewer heads
    assert count_params(k).total > count_params(ds).total


# microsoft/Phi-3-mini-4k-instruct config.json, as copied in NVIDIA/TensorRT-LLM
# tests/unittest/_torch/modeling/test_modeling_phi3.py (PHI3_MINI_4K_CONFIG); the fields the importer reads
PHI3_MINI_4K = {
    "architectures": ["Phi3ForCausalLM"],
    "model_type": "phi3",
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "max_position_embeddings": 4096,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "sliding_window": 2047,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "vocab_size": 32064,
    "hidden_act": "silu",
}


def test_phi3_mini_counts_its_published_3_8b_parameters() -> None:
    from jalapeno.models import count_params, kv_bytes_per_token, parse_hf_config

    cfg = parse_hf_config(PHI3_MINI_4K, name="phi-3-mini-4k")
    h, f, v, n = 3072, 8192, 32064, 32
    per_layer = 4 * h * h + 3 * h * f + 2 * h  # q, k, v, o (MHA: 32 kv heads); gate, up, down; two RMSNorms
    assert count_params(cfg).total == n * per_layer + 2 * v * h + h  # untied embeddings and head, final norm
    assert count_params(cfg).total == 3_821_079_552  # "3.8B parameters" (Phi-3 technical report)
    assert cfg.layer_attention == ("sliding",) * 32 and cfg.sliding_window == 2047
    assert kv_bytes_per_token(cfg) == 2 * 32 * 3072 * 2  # K and V, 32 layers, bf16
    no_arch = parse_hf_config({k: v for k, v in PHI3_MINI_4K.items() if k != "architectures"}, name="p")
    assert no_arch.num_layers == 32 and no_arch.architecture == "Phi3ForCausalLM"


@pytest.mark.parametrize(
    ("alias", "embedding", "non_embedding", "sliding"),
    [
        # Gemma 2 report (Table 1) and Gemma 3 report (Table 1: 302M embedding + 698M non-embedding)
        ("gemma-2-9b", 917_504_000, 8_324_201_984, tuple(i % 2 == 0 for i in range(42))),
        ("gemma-3-1b", 301_989_888, 697_896_064, tuple((i + 1) % 6 != 0 for i in range(26))),
    ],
)
def test_gemma_counts_match_the_reports(
    alias: str, embedding: int, non_embedding: int, sliding: tuple[bool, ...]
) -> None:
    from jalapeno.models import count_params

    cfg = resolve_model(alias)
    p = count_params(cfg)
    assert cfg.tie_embeddings and cfg.norms_per_layer == 4 and cfg.head_dim == 256
    assert p.embedding == embedding and p.lm_head == 0  # tied
    assert p.total - p.embedding == non_embedding  # four RMSNorms a layer make it exact
    assert tuple(a == "sliding" for a in cfg.layer_attention) == sliding
    assert cfg.qk_norm == (alias == "gemma-3-1b")
