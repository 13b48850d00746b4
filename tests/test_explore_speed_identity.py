"""The speed-ups of the design evaluation (mapper memos, the open-grid GEMM tile search) change no result.

Two guards:

* five full evaluations of ``coding-asic`` designs on ``azure-code`` (a disaggregated fleet, shared SRAM
  and none, 64- and 128-row arrays, GDDR7 and HBM) give exactly the objectives and metrics pinned before
  the speed-ups (``PINNED``, floats as ``repr``); when a deliberate model change moves them, re-pin with
  ``python tests/test_explore_speed_identity.py`` and say why in the commit;
* the GEMM mapping is the same, field for field, whether its candidates are searched as an open grid
  (``map_gemm``, broadcast per axis) or as one flat row per candidate (``evaluate`` on ``candidates``:
  the reference), on every problem two designs' oracles ask for.
"""

from __future__ import annotations

from typing import Any

import pytest

from jalapeno.explore import load_space, resolve_workload
from jalapeno.explore.evaluate import evaluate_design

DESIGN_KEYS = (
    "node",
    "operating_point",
    "cores.count",
    "cores.matrix.engines",
    "cores.matrix.rows",
    "dtypes",
    "cores.sram.capacity_bytes",
    "shared_sram",
    "memory",
    "memory.devices",
    "links.count",
    "tp",
    "replicas",
    "scheduler",
    "max_num_batched_tokens",
    "max_num_seqs",
    "prefill_share",
)
DESIGNS: list[dict[str, Any]] = [
    dict(zip(DESIGN_KEYS, row, strict=True))
    for row in (
        (
            "n3",
            "high",
            14,
            1,
            128,
            "bf16-fp8-fp4",
            2097152,
            "none",
            "gddr7",
            5,
            4,
            4,
            2,
            "disagg",
            2048,
            64,
            0.6220487396413241,
        ),
        (
            "n5",
            "eco",
            26,
            4,
            64,
            "bf16-fp8-fp4",
            2097152,
            "none",
            "hbm3e",
            4,
            8,
            4,
            4,
            "sarathi",
            8192,
            32,
            0.707661980055883,
        ),
        (
            "n7",
            "eco",
            37,
            2,
            64,
            "bf16-fp8",
            524288,
            "256MiB",
            "hbm3e",
            3,
            8,
            2,
            5,
            "sarathi",
            1024,
            128,
            0.3237362272326782,
        ),
        (
            "n5",
            "eco",
            28,
            2,
            128,
            "bf16-fp8-fp4",
            524288,
            "none",
            "hbm3",
            5,
            8,
            2,
            6,
            "sarathi",
            512,
            128,
            0.6244499222442432,
        ),
        (
            "n5",
            "low",
            14,
            2,
            128,
            "bf16-fp8",
            4194304,
            "256MiB",
            "hbm3e",
            4,
            2,
            4,
            4,
            "sarathi",
            256,
            256,
            0.46915251914973694,
        ),
    )
]
METRICS = (
    "energy_j",
    "avg_power_w",
    "goodput_rps",
    "slo_attainment",
    "ttft_p50_s",
    "tpot_p50_s",
    "tpot_p99_s",
    "throughput_tokens_per_s",
)

PINNED_KEYS = ("goodput_per_watt", "usd_per_mtok", "ttft_p99_s", *METRICS)  # objectives, then METRICS
PINNED: list[dict[str, float]] = [
    dict(zip(PINNED_KEYS, row, strict=True))
    for row in (
        (
            0.0040872629431254375,
            0.1443619672138654,
            5.540352128532386,
            245151.83239808725,
            412.33381985432123,
            1.685316742087927,
            0.6761133603238867,
            0.37475155795119974,
            0.021570230948541082,
            0.026393780358443454,
            68.36970084743726,
        ),
        (
            0.0026418662676410865,
            0.5388094245688178,
            0.1234736132473887,
            560210.0371725049,
            955.4393933050217,
            2.524143103948002,
            0.9986504723346828,
            0.026844203395569366,
            0.00527945003777764,
            0.01505988524655764,
            69.32695475160968,
        ),
        (
            0.0038044568448736505,
            0.3319137997085634,
            0.29459949460081336,
            376663.4919071059,
            641.6461965365315,
            2.441115264400551,
            0.9669365721997301,
            0.05801070452100987,
            0.00829636037817598,
            0.03307078879351038,
            69.24556481690021,
        ),
        (
            0.0028415450497259803,
            0.39276256177801194,
            0.1807482569035904,
            521547.2477351412,
            889.3477132209462,
            2.5271215919881005,
            1.0,
            0.03013251379297799,
            0.006538426600520227,
            0.009593755193295937,
            69.31509149306632,
        ),
        (
            0.002783460617692383,
            0.5418476476550061,
            0.2840874636291722,
            532430.74127941,
            908.0440663153269,
            2.527504897717963,
            1.0,
            0.05726265339153258,
            0.00533884439100076,
            0.008830890100789015,
            69.32560498470815,
        ),
    )
]  # before the speed-ups (2026-12-05); re-pin by running this file


def _values(space: Any, work: Any, design: dict[str, Any]) -> dict[str, float]:
    ev = evaluate_design(space, design, work, fast=True)
    return {**dict(ev.objectives), **{k: ev.metrics[k] for k in METRICS}}


@pytest.fixture(scope="module")
def space_work() -> tuple[Any, Any]:
    return load_space("coding-asic"), resolve_workload("azure-code")


@pytest.mark.parametrize("i", range(len(DESIGNS)))
def test_evaluation_matches_the_pinned_values(space_work: tuple[Any, Any], i: int) -> None:
    got = _values(*space_work, DESIGNS[i])
    assert got == PINNED[i]  # exact: every float to the last bit


def _flat_reference(t: Any, p: Any) -> tuple[Any, Any]:
    """(``map_gemm``'s choice made over the flat candidate rows, as before the open grid; ``map_gemm``'s)."""
    from dataclasses import replace

    import numpy as np

    from jalapeno.mapping.gemm import ORDERS, candidates, evaluate, map_gemm

    c = candidates(t, p)
    ev = {k: np.broadcast_to(v, c["tm"].shape) for k, v in evaluate(t, p, c).items()}
    ok = ev["feasible"]
    if not ok.any():
        ok = (
            (c["tm"] == c["tm"].min())
            & (c["tn"] == c["tn"].min())
            & (c["tk"] == c["tk"].min())
            & (c["db"] == 1)
        )
    time = np.where(ok, ev["time"], np.inf)
    i = int(np.argmin(np.where(ok & (time <= time.min() * (1 + 1e-6)), ev["energy"], np.inf)))
    d, tc, tm, tl, ts = ev["t_dma"], ev["t_c"], ev["t_main"], ev["t_l2"], ev["t_sram"]
    bound = np.select(
        [
            (d > 0) & (d >= np.maximum(tc, np.maximum(np.maximum(tm, tl), ts))),
            tc >= ev["t_mem"],
            tm >= np.maximum(tl, ts),
            tl >= ts,
        ],
        ["dma", "compute", "main", "level2"],
        "sram",
    )
    floats = {
        "time_s": "time",
        "energy_j": "energy",
        "bytes_main": "main",
        "bytes_level2": "l2",
        "bytes_sram": "sram",
        "bytes_rf": "rf",
        "compute_s": "t_c",
        "memory_s": "t_mem",
        "reduce_s": "t_red",
        "buffer_bytes": "buf",
        "utilization": "util",
    }
    ints = {"split_k": "sk", "waves": "waves", "cores_used": "active", "transfers": "transfers"}
    got = map_gemm(t, p)
    ref = replace(
        got,
        dataflow=t.dataflows[int(c["df"][i])],
        order=ORDERS[int(c["order"][i])],
        tile=(int(c["tm"][i]), int(c["tn"][i]), int(c["tk"][i])),
        double_buffer=bool(c["db"][i] == 2),
        candidates=int(ok.sum()),
        bound=str(bound[i]),
        **{f: float(ev[k][i]) for f, k in floats.items()},
        **{f: int(ev[k][i]) for f, k in ints.items()},
    )
    return ref, got


@pytest.mark.parametrize("i", [0, 2])
def test_open_grid_search_equals_the_flat_search(space_work: tuple[Any, Any], i: int) -> None:
    """Every GEMM an evaluation maps (design i's mapper) is chosen and priced identically by both searches."""
    from jalapeno.explore.design import build_arch
    from jalapeno.graph.batch import Batch
    from jalapeno.graph.builder import build_graph
    from jalapeno.mapping.mapper import Mapper

    space, work = space_work
    mapper = Mapper(build_arch(space, space.check(DESIGNS[i])))
    for batch in (
        Batch.decode(7, 900),
        Batch.prefill(300),
        Batch.prefill(1000, 0, 3),
        Batch.decode(64, 2000),
        Batch.prefill(5000, 2000),
    ):
        mapper.map_graph(build_graph(work.model_config(), batch, work.precision()))
    assert len(mapper._gemm_memo) >= 10
    for p in mapper._gemm_memo:
        ref, got = _flat_reference(mapper.target, p)
        assert got == ref, p


if __name__ == "__main__":  # re-pin: prints the PINNED rows (floats as repr, in PINNED_KEYS order)
    s, w = load_space("coding-asic"), resolve_workload("azure-code")
    for d in DESIGNS:
        got = _values(s, w, d)
        print(f"    ({', '.join(repr(got[k]) for k in PINNED_KEYS)}),")
