"""Bundled models and name resolution: alias, Hugging Face id, or a path to a ``config.json``.

The bundled files under ``models/configs/`` are copies of the Hugging Face ``config.json`` of each model
(GLM-4.5, GLM-4.5-Air and Kimi-K2: reconstructed from the published fields their ``_source`` names); nothing
is downloaded. Bundled configs are parsed once (``lru_cache``).
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from jalapeno.errors import JalapenoError
from jalapeno.models.config import ModelConfig
from jalapeno.models.hf_cache import cached_config, hub_cache
from jalapeno.models.hf_import import parse_hf_config

# alias -> (Hugging Face id, bundled file under models/configs/)
MODELS: dict[str, tuple[str, str]] = {
    "llama-3.1-8b": ("meta-llama/Llama-3.1-8B-Instruct", "llama-3.1-8b.json"),
    "llama-3.1-70b": ("meta-llama/Llama-3.1-70B-Instruct", "llama-3.1-70b.json"),
    "llama-3.1-405b": ("meta-llama/Llama-3.1-405B-Instruct", "llama-3.1-405b.json"),
    # NOT on the Hub: the 405B with decoder layers 59-84 dropped (100 of 126), as AMD served it in MLPerf
    # v5.1's open division (the file's "_source" names the harness config and the pruning script)
    "llama-3.1-405b-pruned": ("none (AMD MLPerf pruned_59_84)", "llama-3.1-405b-pruned.json"),
    "llama-3.2-1b": ("meta-llama/Llama-3.2-1B-Instruct", "llama-3.2-1b.json"),
    "llama-2-70b": ("meta-llama/Llama-2-70b-hf", "llama-2-70b.json"),  # the MLPerf Inference LLM benchmark
    "llama-3.2-3b": ("meta-llama/Llama-3.2-3B-Instruct", "llama-3.2-3b.json"),
    "codellama-7b": ("codellama/CodeLlama-7b-hf", "codellama-7b.json"),
    "codellama-34b": ("codellama/CodeLlama-34b-hf", "codellama-34b.json"),
    "qwen2.5-coder-1.5b": ("Qwen/Qwen2.5-Coder-1.5B-Instruct", "qwen2.5-coder-1.5b.json"),
    "qwen2.5-coder-7b": ("Qwen/Qwen2.5-Coder-7B-Instruct", "qwen2.5-coder-7b.json"),
    "qwen2.5-coder-32b": ("Qwen/Qwen2.5-Coder-32B-Instruct", "qwen2.5-coder-32b.json"),
    "qwen3-8b": ("Qwen/Qwen3-8B", "qwen3-8b.json"),
    "qwen3-32b": ("Qwen/Qwen3-32B", "qwen3-32b.json"),
    "qwen3-coder-30b-a3b": ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3-coder-30b-a3b.json"),
    "qwen3-coder-480b-a35b": ("Qwen/Qwen3-Coder-480B-A35B-Instruct", "qwen3-coder-480b-a35b.json"),
    "mistral-7b": ("mistralai/Mistral-7B-v0.1", "mistral-7b.json"),
    "codestral-22b": ("mistralai/Codestral-22B-v0.1", "codestral-22b.json"),
    "mixtral-8x7b": ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral-8x7b.json"),
    "deepseek-v3": ("deepseek-ai/DeepSeek-V3", "deepseek-v3.json"),
    "gpt-oss-20b": ("openai/gpt-oss-20b", "gpt-oss-20b.json"),
    "gpt-oss-120b": ("openai/gpt-oss-120b", "gpt-oss-120b.json"),
    # as copied in NVIDIA/TensorRT-LLM tests/unittest/_torch/modeling/test_modeling_phi3.py
    # (transformers 4.40.2)
    "phi-3-mini-4k": ("microsoft/Phi-3-mini-4k-instruct", "phi-3-mini-4k.json"),
    # as quoted (cat of the cached config.json) in a vllm-project/vllm usage issue on extending
    # gemma-2-9b context
    "gemma-2-9b": ("google/gemma-2-9b-it", "gemma-2-9b.json"),
    # as quoted in Liwink/gemma-jax models/README.md (transformers 4.52.4); the 1B is text-only
    # Gemma3ForCausalLM
    "gemma-3-1b": ("google/gemma-3-1b-it", "gemma-3-1b.json"),
    # NOT copies: no verbatim config.json of these three was reachable, so each file holds only the fields the
    # sources it names in its own "_source" key publish (docs/models.md); the parser ignores "_source"
    "glm-4.5": ("zai-org/GLM-4.5", "glm-4.5.json"),
    "glm-4.5-air": ("zai-org/GLM-4.5-Air", "glm-4.5-air.json"),
    "kimi-k2": ("moonshotai/Kimi-K2-Instruct", "kimi-k2.json"),
}
# other checkpoints of a bundled architecture: name -> the alias whose config.json they share. DeepSeek-R1
# is DeepSeek-V3-Base post-trained (arXiv 2501.12948); its config.json (DeepseekV3ForCausalLM) has V3's
# dimensions (MLPerf Inference v5.1's DeepSeek-R1 benchmark, the published rows in data/published)
SAME_ARCHITECTURE = {"deepseek-r1": "deepseek-v3", "deepseek-ai/deepseek-r1": "deepseek-v3"}
_BY_HF_ID = {hf_id.lower(): alias for alias, (hf_id, _) in MODELS.items()}


def list_models() -> list[str]:
    """Aliases of the bundled models, in table order."""
    return list(MODELS)


@cache
def _bundled(alias: str) -> ModelConfig:
    hf_id, file = MODELS[alias]
    text = resources.files("jalapeno.models").joinpath("configs", file).read_text(encoding="utf-8")
    return parse_hf_config(json.loads(text), name=alias, hf_id=hf_id, source=f"bundled:configs/{file}")


def load_config_file(path: str | Path) -> ModelConfig:
    """Parse a ``config.json`` (or a directory holding one) from disk."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    data = _read_json(p)
    name = p.parent.name if p.name == "config.json" and p.parent.name else p.stem
    hf_id = data.get("_name_or_path", "") if isinstance(data, dict) else ""
    return parse_hf_config(data, name=name, hf_id=hf_id if isinstance(hf_id, str) else "", source=str(p))


def _read_json(p: Path) -> Any:
    from jalapeno.jsonio import read_json

    return read_json(p, "model", max_bytes=64 * 2**20)


def resolve_model(name_or_path: str) -> ModelConfig:
    """A bundled alias, a Hugging Face id (case-insensitive), or a path to a config.json or its directory;
    else a Hugging Face id found in the local hub cache (``hf_cache``, offline)."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise JalapenoError(f"expected a model name or path, got {name_or_path!r}", field="model")
    if _is_local(name_or_path):  # a path that exists wins over a bundled name spelled the same
        return load_config_file(name_or_path)
    key = name_or_path.strip().lower()
    if key in MODELS:
        return _bundled(key)
    if key in _BY_HF_ID:
        return _bundled(_BY_HF_ID[key])
    if key in SAME_ARCHITECTURE:
        return _bundled(SAME_ARCHITECTURE[key])
    if _exists(name_or_path):
        return load_config_file(name_or_path)
    cached = cached_config(name_or_path.strip())
    if cached is not None:  # a Hugging Face id downloaded before: the output names the cache file
        data = _read_json(cached)
        return parse_hf_config(
            data, name=name_or_path.strip(), hf_id=name_or_path.strip(), source=f"hf-cache:{cached}"
        )
    raise JalapenoError(_unknown_message(name_or_path), field="model")


def _exists(name: str) -> bool:
    try:
        return Path(name).exists()
    except (OSError, ValueError):
        return False


def _is_local(name: str) -> bool:
    """A config.json file, or a directory holding one."""
    try:
        p = Path(name)
        return p.is_file() or (p.is_dir() and (p / "config.json").is_file())
    except (OSError, ValueError):
        return False


def _unknown_message(name: str) -> str:
    close = difflib.get_close_matches(name.strip().lower(), [*MODELS, *_BY_HF_ID], n=1, cutoff=0.5)
    hint = ""
    if close:
        hint = f" Did you mean {_BY_HF_ID.get(close[0], close[0])!r}?"
    return (
        f"unknown model {name!r} (not an alias, a Hugging Face id of a bundled model, "
        f"an existing path, or a Hugging Face id in the local cache {str(hub_cache())!r}).{hint} "
        f"Bundled: {', '.join(MODELS)}"
    )
