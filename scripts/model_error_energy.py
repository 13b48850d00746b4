"""How a chip's sampled model error is charged in energy: three readings at the ends of the H200's band.

    python scripts/model_error_energy.py

The H200's best azure-code fleet of ``jalapeno compare`` (2 x tp2, chunked prefill at 512 tokens) served
with ``evaluate_chip(..., throughput_factor=f)`` at the band's ends: under the reading
``jalapeno.cost.model_error`` uses (the work's energy plus the replica's static power over the time added,
within the power limit), holding power constant (energy x 1 / f) and holding energy per step constant.
Prints a Markdown table (docs/compare.md, "Model error of the GPUs"): goodput/W in req/s/kW and the fleet's
average power.
"""

from __future__ import annotations

from typing import Any

from jalapeno.cost import model_error as me
from jalapeno.cost.params import chip_error_band
from jalapeno.explore.design import Deployment
from jalapeno.explore.evaluate import evaluate_chip
from jalapeno.explore.workload import resolve_workload
from jalapeno.hardware import resolve_chip
from jalapeno.seams.step_oracle import StepCost, StepShape


class ConstantPower(me.ScaledOracle):
    def step(self, shape: StepShape) -> StepCost:
        c = self.inner.step(shape)
        return StepCost(c.time_s / self.factor, c.energy_j / self.factor)


class ConstantEnergy(me.ScaledOracle):
    def step(self, shape: StepShape) -> StepCost:
        c = self.inner.step(shape)
        return StepCost(c.time_s / self.factor, c.energy_j)


def main() -> None:
    w, chip = resolve_workload("azure-code"), resolve_chip("h200")
    dep = Deployment(tp=2, replicas=2, scheduler="sarathi", max_num_batched_tokens=512)
    used = me.scaled
    readings: list[tuple[str, Any]] = [
        ("static power over the time (used)", used),
        ("constant power", ConstantPower),
        ("constant energy", ConstantEnergy),
    ]
    band = chip_error_band(chip.name)
    assert band is not None
    print("| f | SLO attainment | " + " | ".join(n for n, _ in readings) + " |")
    print("|---:|---:|" + "---:|" * len(readings))
    try:
        for f in (band[0], 1.0, band[1]):
            cells, att = [], 0.0
            for _, how in readings:
                me.scaled = how if how is used else (lambda o, x, how=how: how(o, x))  # type: ignore[misc]
                ev = evaluate_chip(chip, dep, w, throughput_factor=f)
                att = ev.metrics["slo_attainment"]
                cells.append(
                    f"{ev.objectives['goodput_per_watt'] * 1e3:.2f} ({ev.metrics['avg_power_w']:.0f} W)"
                )
            print(f"| {f:.3f} | {att:.3f} | " + " | ".join(cells) + " |")
    finally:
        me.scaled = used


if __name__ == "__main__":
    main()
