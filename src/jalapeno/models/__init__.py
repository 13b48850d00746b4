"""Models: Hugging Face ``config.json`` import, bundled configs, parameter and KV-cache counts.

Layer (docs/extending.md#layers): the bottom of the domain, beside hardware and workload and independent of
both. May import only the bottom modules (errors, dtypes, jsonio, tableio); knows nothing of chips or timing.
"""

from jalapeno.models.config import MLAConfig, ModelConfig, MoEConfig
from jalapeno.models.hf_import import parse_hf_config
from jalapeno.models.params import ParamCount, count_params, kv_bytes_per_token
from jalapeno.models.registry import list_models, resolve_model

__all__ = [
    "MLAConfig",
    "MoEConfig",
    "ModelConfig",
    "ParamCount",
    "count_params",
    "kv_bytes_per_token",
    "list_models",
    "parse_hf_config",
    "resolve_model",
]
