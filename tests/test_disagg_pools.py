"""One parallel plan per pool in `serve --topology disagg` (`--decode-tp/-pp/-ep/-dp`; docs/parallel.md)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from jalapeno import schemas
from jalapeno.cli import main
from jalapeno.commands.serve import build_oracle
from jalapeno.cost.pipeline import Parallel
from jalapeno.errors import JalapenoError
from jalapeno.graph.precision import Precision
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model
from jalapeno.serving import Disagg, simulate
from jalapeno.workload import load_trace

BASE = ("-m", "llama-3.1-8b", "-H", "h200", "-t", "azure-code", "--limit", "60", "--topology", "disagg")
NEW_KEYS = ("chips", "decode_chips_per_replica", "decode_parallel")


def serve(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["serve", *args, "--json", "--no-timings", "-q"]) == 0
    return json.loads(capsys.readouterr().out)


def numbers(doc: dict[str, Any]) -> dict[str, Any]:
    """The document less the deployment's new pool keys (what a run printed before them)."""
    out = json.loads(json.dumps(doc))
    for k in NEW_KEYS:
        out["deployment"].pop(k)
    return out


def test_default_decode_plan_is_the_prefill_pools_and_changes_nothing(capsys):
    """Leaving the --decode-* options out, or giving the prefill pool's values, is today's run: the same
    document; the numbers are the ones the commit before this feature printed (8397b52)."""
    default = serve(capsys, *BASE)
    same = serve(capsys, *BASE, "--decode-tp", "1", "--decode-pp", "1", "--decode-ep", "1")
    assert same == default
    dep = default["deployment"]
    assert dep["decode_parallel"] == dep["parallel"] == {"tp": 1, "pp": 1, "chips": 1}
    assert (dep["chips"], dep["decode_chips_per_replica"], dep["kv_link_gbps"]) == (2, 1, 400.0)
    # pinned from `jalapeno serve <BASE> --json` at 8397b52, before one plan per pool
    assert default["tpot_s"]["mean"] == 0.005733809970999127
    assert default["joules_per_token"]["output"] == 7.29337172115377
    assert (default["completed"], default["output_tokens"], default["prompt_tokens"]) == (60, 1441, 131532)
    colocated = serve(capsys, *BASE[:-2], "--replicas", "2")
    assert colocated["deployment"]["decode_parallel"] is None
    assert colocated["deployment"]["decode_chips_per_replica"] is None
    assert colocated["deployment"]["chips"] == 2


def test_separate_decode_oracle_under_the_same_plan_equals_the_shared_one():
    """The simulator's decode pool priced by its own oracle under the prefill plan gives the same result
    as the shared oracle (the path a different decode plan takes)."""
    cfg, chip = resolve_model("llama-3.1-8b"), resolve_chip("h200")
    reqs = load_trace("azure-code", limit=40).requests
    oracle, _ = build_oracle(cfg, chip, Precision.of("bf16"), 1)
    twin, _ = build_oracle(cfg, chip, Precision.of("bf16"), 1)
    shared = simulate(reqs, oracle, topology="disagg", scheduler="sarathi", disagg=Disagg())
    own = simulate(
        reqs,
        oracle,
        topology="disagg",
        scheduler="sarathi",
        disagg=Disagg(decode_oracle=twin, decode_parallel=Parallel(1)),
    )
    assert own.to_dict() | {"sim_wall_s": 0} == shared.to_dict() | {"sim_wall_s": 0}


def test_wider_decode_pool_lowers_tpot_and_uses_more_chips(capsys):
    """Prefill on 1 H200, decode on a TP2 replica: 1 + 2 = 3 chips (TCO prices 3), the decode step reads
    half the weights a chip, so TPOT drops; the KV link is the smaller replica's one 400G NIC."""
    base = serve(capsys, *BASE)
    wide = serve(capsys, *BASE, "--decode-tp", "2")
    dep = wide["deployment"]
    assert dep["parallel"] == {"tp": 1, "pp": 1, "chips": 1}
    assert dep["decode_parallel"] == {"tp": 2, "pp": 1, "chips": 2}
    assert (dep["chips"], dep["chips_per_replica"], dep["decode_chips_per_replica"]) == (3, 1, 2)
    assert wide["tco"]["chips"] == 3 and base["tco"]["chips"] == 2
    assert dep["kv_link_gbps"] == 400.0
    assert wide["tpot_s"]["mean"] < 0.8 * base["tpot_s"]["mean"]
    assert wide["tpot_s"]["p90"] < base["tpot_s"]["p90"]
    # the prefill pool is untouched: every request's first token comes from the same 1-chip replica
    assert wide["ttft_s"]["p50"] == pytest.approx(base["ttft_s"]["p50"], rel=0.05)
    # conservation: every request served, every prompt and output token counted once, whatever the plan
    trace = load_trace("azure-code", limit=60).requests
    for doc in (base, wide):
        assert doc["completed"] + doc["dropped"] == doc["requests"] == 60
        assert doc["dropped"] == 0
        assert doc["output_tokens"] == sum(r.output_tokens for r in trace)
        assert doc["prompt_tokens"] == sum(r.prompt_tokens for r in trace)
    jsonschema.validate(wide, schemas.load(wide["schema"]))


def test_narrower_decode_pool_and_its_kv_link(capsys):
    """Prefill TP2, decode TP1 x 2 replicas: 2 + 2 = 4 chips; the KV lands on one-chip replicas, so the
    link is one 400G NIC (not the prefill replica's two)."""
    doc = serve(capsys, *BASE, "--tp", "2", "--decode-tp", "1", "--decode-replicas", "2")
    dep = doc["deployment"]
    assert (dep["chips"], dep["chips_per_replica"], dep["decode_chips_per_replica"]) == (4, 2, 1)
    assert dep["kv_link_gbps"] == 400.0
    assert serve(capsys, *BASE, "--tp", "2")["deployment"]["kv_link_gbps"] == 800.0


def test_expert_parallel_decode_pool(capsys):
    """gpt-oss-120b: prefill EP8 (dp 8), decode EP16 (dp 16 over two HGX boards): 8 + 16 = 24 chips;
    --tbo goes to every pool with expert parallelism, and a TP prefill pool takes none of the EP knobs."""
    args = ("-m", "gpt-oss-120b", "-H", "h200-sxm", "--dtype", "fp8", "--limit", "30", "--topology", "disagg")
    doc = serve(capsys, *args, "--ep", "8", "--decode-ep", "16", "--tbo")
    dep = doc["deployment"]
    assert (dep["parallel"]["ep"], dep["parallel"]["dp"], dep["parallel"]["tbo"]) == (8, 8, True)
    assert (dep["decode_parallel"]["ep"], dep["decode_parallel"]["dp"], dep["decode_parallel"]["tbo"]) == (
        16,
        16,
        True,
    )
    assert (dep["chips"], dep["tp"]) == (24, 1) and doc["tco"]["chips"] == 24
    # a request's KV sits on one attention replica (tp 1): one 400G NIC a request (cost.kv_transfer); the
    # link was 8 x 400G before (every chip's NIC of the group), optimistic for one transfer
    assert dep["kv_link_gbps"] == 400.0
    assert doc["completed"] == 30
    tp_pre = serve(capsys, *args, "--tp", "8", "--decode-tp", "1", "--decode-ep", "8", "--tbo")
    d2 = tp_pre["deployment"]
    assert "ep" not in d2["parallel"] and d2["decode_parallel"]["tbo"] is True
    assert (d2["decode_parallel"]["ep"], d2["decode_parallel"]["dp"], d2["chips"]) == (8, 8, 16)


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (("--decode-tp", "0"), "--decode-tp"),
        (("--decode-pp", "5000"), "--decode-pp"),
        (("--decode-ep", "-1"), "--decode-ep"),
        (("--decode-tp", "3"), "--decode-tp"),  # 32 heads
        (("--decode-dp", "2"), "--decode-dp"),  # dp needs ep
        (("--decode-ep", "2"), "--decode-ep"),  # a dense model
        (("--decode-pp", "33"), "--decode-pp"),  # 32 layers
    ],
)
def test_bad_decode_plan_is_one_error_line(capsys, args, flag):
    assert main(["serve", *BASE, *args, "--json"]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert cap.out == "" and len(lines) == 1 and lines[0].startswith(f"error: {flag}:"), cap.err


def test_decode_plan_only_with_disagg_and_ep_errors_name_the_decode_option(capsys):
    for args, flag in (
        (("-m", "llama-3.1-8b", "--decode-tp", "2"), "--decode-tp"),
        (("--decode-ep", "3"), "--decode-ep"),  # 128 experts do not split over 3
        (("--decode-ep", "4", "--decode-dp", "2"), "--decode-ep"),  # ep != tp x dp
    ):
        if args[0] != "-m":
            args = ("-m", "gpt-oss-120b", "--dtype", "fp8", "--ep", "8", "--topology", "disagg", *args)
        assert main(["serve", "-H", "h200-sxm", "--limit", "5", *args, "--json"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {flag}:"), err


def test_disagg_decode_plan_needs_its_oracle():
    with pytest.raises(JalapenoError, match="decode_oracle"):
        Disagg(decode_parallel=Parallel(2))
    cfg, chip = resolve_model("llama-3.1-8b"), resolve_chip("h200")
    one, _ = build_oracle(cfg, chip, Precision.of("bf16"), 1)
    with pytest.raises(JalapenoError, match="priced under"):
        Disagg(decode_oracle=one, decode_parallel=Parallel(2))
    two, _ = build_oracle(cfg, chip, Precision.of("bf16"), 2)
    assert Disagg(decode_oracle=two, decode_parallel=Parallel(2)).decode_parallel == Parallel(2)


# --- explore: a Deployment's decode pool may run its own plan -----------------------------------------------
def test_explore_deployment_decode_plan_counts_each_pools_chips():
    from jalapeno.explore.design import Deployment

    same = Deployment(tp=2, replicas=4, topology="disagg")
    assert not same.own_decode_plan and same.chips == 8
    assert Deployment(tp=2, replicas=4, topology="disagg", decode_tp=2).to_json() == same.to_json()
    # 2 prefill replicas of tp 2 + 2 decode replicas of tp 4 = 4 + 8 chips
    d = Deployment(tp=2, replicas=4, topology="disagg", decode_tp=4)
    assert d.own_decode_plan and (d.prefill_replicas, d.chips) == (2, 12)
    assert d.to_json()["decode_tp"] == 4 and d.to_json()["chips"] == 12 and d.label().endswith("decode tp4")
    assert Deployment(**{k: v for k, v in d.to_json().items() if k != "chips"}) == d
    # EP8 prefill x 1, EP16 (dp 16) decode x 1 = 24 chips; colocated ignores the decode plan
    e = Deployment(tp=1, ep=8, replicas=2, topology="disagg", decode_ep=16)
    assert e.chips == 24 and e.decode_deployment().parallel().dp == 16
    assert Deployment(tp=2, replicas=4, decode_tp=4).chips == 8


def test_explore_evaluates_a_wider_decode_pool():
    from jalapeno.explore.design import Deployment
    from jalapeno.explore.evaluate import evaluate_chip
    from jalapeno.explore.workload import workload_from_dict

    w = workload_from_dict(
        {
            "name": "pools",
            "model": "llama-3.1-8b",
            "trace": {"name": "azure-code", "start_s": 0, "duration_s": 30},
            "slo": {"ttft_s": 1.0, "tpot_s": 0.025, "attainment": 0.5},
        }
    )
    chip = resolve_chip("h200")
    base = evaluate_chip(chip, Deployment(tp=1, replicas=2, topology="disagg"), w, fast=False)
    wide = evaluate_chip(chip, Deployment(tp=1, replicas=2, topology="disagg", decode_tp=2), w, fast=False)
    assert (base.metrics["chips"], wide.metrics["chips"]) == (2, 3)
    assert wide.metrics["tpot_p50_s"] < 0.8 * base.metrics["tpot_p50_s"]
    assert wide.metrics["requests"] == base.metrics["requests"] > 0
    assert wide.metrics["dropped"] == base.metrics["dropped"] == 0
