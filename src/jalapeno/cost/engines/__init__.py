"""Step engines: how the serving engine a GPU preset is priced as changes its cost parameters.

``--engine`` picks one by name (``serve``, ``estimate``, ``bench``). A datasheet chip's parameters are
what its calibration measured (a plain-PyTorch engine's kernel counts); an engine maps them to what
another serving engine would launch. A mapped architecture is timed by its mapper, which fuses on its
own, so engines do not apply to it (``cost.params.setup_for``). One module an engine; each registers
itself with ``@ENGINES.register(name, summary)`` and is found by the registry's scan of this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

from jalapeno.registry import Registry


class EngineParams(Protocol):
    """What an engine reads of the cost parameters (``cost.params.CostParams``, a frozen dataclass; not
    imported here, so that ``cost.params`` may look engines up without an import cycle)."""

    @property
    def kernels_per_op(self) -> Mapping[str, int]: ...

    @property
    def source(self) -> str: ...


P = TypeVar("P", bound=EngineParams)


class StepEngine(Protocol):
    """What an engine provides: the chip's cost parameters under it, from the calibrated ones."""

    def __call__(self, params: P, /) -> P: ...


ENGINES: Registry[StepEngine] = Registry("engine", field="engine", package="jalapeno.cost.engines")
