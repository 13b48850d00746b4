"""The request traces shipped inside the package, by name, with their licences and credits.

Files live in ``jalapeno/workload/traces/`` as unmodified copies of their origin; ``traces/README.md``
and ``traces/licenses/`` carry the full attribution and licence texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TRACES_DIR = Path(__file__).parent / "traces"

_AZURE_2023 = (
    '"Azure LLM inference trace 2023", Microsoft Azure, https://github.com/Azure/AzurePublicDataset, '
    "unmodified; CC BY 4.0 (licenses/CC-BY-4.0_AzurePublicDataset_LICENSE.txt). Cite: P. Patel et al., "
    '"Splitwise: Efficient generative LLM inference using phase splitting", ISCA 2024.'
)
_MOONCAKE = (
    "Mooncake traces, Moonshot AI, https://github.com/kvcache-ai/Mooncake (FAST25-release/traces), "
    "unmodified; Apache-2.0 (licenses/Apache-2.0_Mooncake_LICENSE-APACHE.txt). Cite: R. Qin et al., "
    '"Mooncake: Trading More Storage for Less Computation - A KVCache-centric Architecture for '
    'Serving LLM Chatbot", USENIX FAST 2025.'
)
_TRACELAB = (
    "TraceLab (SyFI Lab, University of Washington), https://github.com/uw-syfi/TraceLab "
    "(example_sessions/sanitized), unmodified; Apache-2.0 with NOTICE "
    "(licenses/Apache-2.0_TraceLab_LICENSE.txt, licenses/TraceLab_NOTICE.txt); dataset CC BY 4.0 "
    "(licenses/TraceLab_LICENSE-DATASET.md): do not attempt re-identification."
)


@dataclass(frozen=True)
class BundledTrace:
    name: str
    file: str
    aliases: tuple[str, ...]
    description: str
    attribution: str

    @property
    def path(self) -> Path:
        return TRACES_DIR / self.file


BUNDLED: tuple[BundledTrace, ...] = (
    BundledTrace(
        "azure-code",
        "AzureLLMInferenceTrace_code.csv",
        ("azure-code-2023",),
        "Azure coding assistant, 1 h, Nov 2023 (very bursty)",
        _AZURE_2023,
    ),
    BundledTrace(
        "azure-conv",
        "AzureLLMInferenceTrace_conv.csv",
        ("azure-conv-2023",),
        "Azure conversation service, 1 h, Nov 2023 (near Poisson)",
        _AZURE_2023,
    ),
    BundledTrace(
        "mooncake-conversation",
        "conversation_trace.jsonl",
        ("mooncake-conv",),
        "Kimi chat, 1 h, with 512-token prefix-block hashes",
        _MOONCAKE,
    ),
    BundledTrace(
        "mooncake-synthetic",
        "synthetic_trace.jsonl",
        (),
        "Mooncake synthetic (public datasets, Poisson), with prefix-block hashes",
        _MOONCAKE,
    ),
    BundledTrace(
        "tracelab-rounds",
        "round_trace.jsonl",
        ("tracelab",),
        "Two coding-agent sessions (Claude, Codex), one LLM call a round",
        _TRACELAB,
    ),
)


def find_bundled(name: str) -> BundledTrace | None:
    """The bundled trace called ``name`` (a name, an alias or its file name), or None."""
    key = name.strip().lower()
    for trace in BUNDLED:
        if key in (trace.name, trace.file.lower(), *trace.aliases):
            return trace
    return None


def bundled_names() -> list[str]:
    return [t.name for t in BUNDLED]
