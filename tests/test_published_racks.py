"""Rack-scale MLPerf rows: GB200/GB300 NVL72 systems (several nodes, one NVLink domain) in the dataset."""

from __future__ import annotations

import pytest
from repo_scripts import load_script

from jalapeno.cost.published import ServingConfig, load_published

ROWS = {r.id: r for r in load_published()}


def _script():
    return load_script("published_mlperf")


def test_gb300_nvl72_405b_rows_are_the_racks_72_gpus_with_their_config() -> None:
    """summary_results.json ID 5.1-0072: 18 nodes x 4 GB300 (a# 4, Nodes 18); Offline 16,104.1 tokens/s,
    Server 12,248.4; configs/GB300-NVL72_GB300-288GB_aarch64x72_TRT/<Scenario>/llama3_1-405b.py: TP2 PP1,
    gpu_batch_size 2048, chunked context under max_num_tokens 1536, use_graphs False; only the Server
    engine is built with gemm_allreduce_plugin."""
    off = ROWS["5.1-0072:llama3.1-405b:Offline"]
    srv = ROWS["5.1-0072:llama3.1-405b:Server"]
    assert (off.chip, off.n_chips, off.precision) == ("gb300-nvl72", 72, "fp4")
    assert off.per_chip == pytest.approx(16104.1 / 72) and srv.per_chip == pytest.approx(12248.4 / 72)
    assert (off.tp, off.serving) == (2, ServingConfig(1, 2048, 1536, False, gemm_allreduce=False))
    assert (srv.tp, srv.serving) == (2, ServingConfig(1, 2048, 1536, False, gemm_allreduce=True))
    assert off.config_url.endswith(
        "closed/NVIDIA/configs/GB300-NVL72_GB300-288GB_aarch64x72_TRT/Offline/llama3_1-405b.py"
    )


def test_gb200_nvl72_rack_rows_sit_beside_the_four_gpu_ones() -> None:
    """5.1-0071 (GB200 NVL72, 72 GPUs) 405B Offline 14,774.3 tokens/s at TP2 x PP2; the 4-GPU Azure row
    (5.1-0008, 847.233) stays its own row: the dataset keys rows by GPUs in the system."""
    rack = ROWS["5.1-0071:llama3.1-405b:Offline"]
    tray = ROWS["5.1-0008:llama3.1-405b:Offline"]
    assert (rack.n_chips, tray.n_chips) == (72, 4)
    assert rack.per_chip == pytest.approx(205.199, rel=1e-4)
    assert tray.per_chip == pytest.approx(211.808, rel=1e-4)
    assert (rack.tp, rack.pp) == (2, 2)


def test_only_grace_blackwell_nvlink_domains_pass_as_multi_node_systems() -> None:
    mod = _script()
    rack = {"Nodes": 18, "Platform": "GB300-NVL72_GB300-288GB_aarch64x72_TRT"}
    assert mod.one_domain(rack, "gb300-nvl72")
    assert mod.one_domain({"Nodes": 2, "Platform": "GB300-NVL8-CoreWeave_TRT"}, "gb300-nvl72")
    # two 8-GPU H200 boxes over InfiniBand (Cisco's C885A x16) are two NVLink domains: left out
    assert not mod.one_domain({"Nodes": 2, "Platform": "C885A_M8_H200_SXM_141GBx16_TRT"}, "h200-sxm")
    assert mod.one_domain({"Nodes": 1, "Platform": "B200-SXM-180GBx8_TRT"}, "b200")
