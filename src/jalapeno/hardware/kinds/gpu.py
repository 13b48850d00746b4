"""``gpu``: dynamically issued SIMT processors (NVIDIA, AMD); constants in technology.yaml."""

from jalapeno.hardware.kinds import KINDS, ChipKindSpec

KINDS.add(
    "gpu",
    ChipKindSpec(static_schedule=False),
    "dynamically issued SIMT processor (issue efficiency measured)",
)
