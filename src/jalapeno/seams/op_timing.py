"""What one operator costs on one chip (``OpTime``) and who answers it (``OpTimer``).

A seam: ``cost.step.Estimator`` asks an ``OpTimer`` for each op; the calibrated roofline
(``cost.op_time``) is one, an architecture's mapper (``mapping.Mapper.timer``) another. Both import
these types from here, so mapping never imports cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jalapeno.graph.ops import Op


@dataclass(frozen=True, slots=True)
class OpTime:
    time_s: float  # device time of one instance, fixed kernel costs included
    compute_s: float  # modeled compute time (with efficiency and quantization)
    memory_s: float  # modeled memory time (with achieved bandwidth)
    roofline_s: float  # ideal: max(flops / peak, bytes / bandwidth)
    bound: str  # "compute", "memory" or "overhead"
    kernels: int  # kernel launches of one instance
    # dynamic energy of one instance when the timer counts it by memory level (a mapper: FLOPs, registers,
    # core SRAM, level 2, main memory, each x its energy per action); None: the Estimator prices FLOPs and
    # main-memory bytes itself
    energy_j: float | None = None


OpTimer = Callable[[Op], OpTime]
