"""``tpu``: systolic arrays behind a VLIW sequencer, compiled ahead of time (XLA); constants in
technology.yaml."""

from jalapeno.hardware.kinds import KINDS, ChipKindSpec

KINDS.add("tpu", ChipKindSpec(static_schedule=True), "systolic arrays, statically scheduled (XLA)")
