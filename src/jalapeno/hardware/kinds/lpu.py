"""``lpu``: Groq's deterministic, compiler-scheduled streaming processor; constants in technology.yaml."""

from jalapeno.hardware.kinds import KINDS, ChipKindSpec

KINDS.add(
    "lpu", ChipKindSpec(static_schedule=True), "deterministic streaming processor, compiler scheduled (Groq)"
)
