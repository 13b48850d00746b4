"""From a ``ChipSpec`` to its mapper and cost parameters, when the chip came from an architecture."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from jalapeno.graph.ops import Op
from jalapeno.hardware.arch import arch_of, model
from jalapeno.hardware.arch.spec import ArchSpec
from jalapeno.hardware.kinds import is_static
from jalapeno.mapping.mapper import Mapper
from jalapeno.seams.cost_params import CostParams
from jalapeno.seams.op_timing import OpTime

_MAPPERS: OrderedDict[int, tuple[ArchSpec, Mapper]] = OrderedDict()
_KEEP = 16


def mapper_for(chip: object) -> Mapper | None:
    """The (cached) mapper of the chip's architecture, or None for datasheet chips."""
    arch = arch_of(chip)
    if arch is None:
        return None
    hit = _MAPPERS.get(id(arch))
    if hit is not None and hit[0] is arch:
        return hit[1]
    m = Mapper(arch)
    _MAPPERS[id(arch)] = (arch, m)  # keeps arch alive, so its id stays unique while cached
    if len(_MAPPERS) > _KEEP:
        _MAPPERS.popitem(last=False)
    return m


def timer_for(chip: object) -> Callable[[Op], OpTime] | None:
    """An ``OpTimer`` for ``Estimator(..., timer=...)`` when the chip has an architecture, else None."""
    m = mapper_for(chip)
    return m.timer if m is not None else None


def cost_params_for(chip: object) -> CostParams | None:
    """Host launch costs, static power and energies of an architecture's chip, in the cost model's terms.

    Energies per FLOP and per main-memory byte include the clock/control share and the bytes' on-chip
    path (measured whole-chip figures where the architecture gives them, ``power:``). Efficiencies stay
    at their defaults: the mapper, not these parameters, times the ops.
    """
    arch = arch_of(chip)
    if arch is None:
        return None
    rt, e = arch.runtime, model.pj_per_bit(arch)
    share = 1 - model.tech_of(arch)(f"clock_power_fraction.{arch.kind}")  # clock/control ride on every action
    launch = rt.launch_s.value
    eager = (
        rt.eager_launch_s.value
        if rt.eager_launch_s is not None
        else max(launch, launch if is_static(arch.kind) else CostParams().eager_launch_s)
    )
    flop = model.pj_per_flop(arch)
    return replace(
        CostParams(),
        kernel_s=rt.kernel_overhead_s.value,
        graph_launch_s=launch,
        eager_launch_s=eager,
        kernels_per_op={k: int(f.value) for k, f in rt.kernels_per_op.items()},
        pj_per_flop=dict(flop),
        pj_per_flop_default=max(flop.values()),
        pj_per_byte_mem=model.pj_per_byte_main(arch),
        pj_per_byte_link=8 * e["link"] / share,
        active_static_w=_active_static_w(arch, chip),
        dvfs_beta=model.dvfs_beta(arch),
        source=f"derived from the architecture {arch.source_file or arch.name}",
    )


def _active_static_w(arch: ArchSpec, chip: object) -> float:
    """Busy rise above idle: measured where the architecture gives it, else the board model's derived floor
    (``extra['power.active_static_w']`` of the derived chip)."""
    if arch.power.active_static_w is not None:
        return arch.power.active_static_w.value
    extra = getattr(chip, "extra", {})
    f = extra.get("power.active_static_w") if hasattr(extra, "get") else None
    return f.value if f is not None else 0.0
