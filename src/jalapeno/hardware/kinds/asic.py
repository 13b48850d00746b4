"""``asic``: an inference ASIC compiled ahead of time (Trainium, Gaudi, Jalapeño-1); constants in
technology.yaml."""

from jalapeno.hardware.kinds import KINDS, ChipKindSpec

KINDS.add("asic", ChipKindSpec(static_schedule=True), "inference ASIC, statically scheduled")
