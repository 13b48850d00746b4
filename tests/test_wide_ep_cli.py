"""The wide-EP mechanisms on the command line (issue 12, item 1): ``--ep-dispatch``, ``--comm-sms`` and
``--attn-imbalance`` reach ``Parallel`` from ``estimate`` and ``serve``, are echoed in the JSON plan only
when not the default, and a bad value is one ``error:`` line naming the option and its fix."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from cli_harness import run

from jalapeno import schemas
from jalapeno.cost.ep_stats import remote_nodes
from jalapeno.hardware import resolve_chip
from jalapeno.hardware.network import network_of

V3 = ("-m", "deepseek-v3", "-H", "h800")
PREFILL = ("estimate", *V3, "--ep", "32", "--batch", "32", "--prompt", "4096", "--json")
DECODE = ("estimate", *V3, "--ep", "32", "--batch", "256", "--json")
WIDE = ("ep_dispatch", "attn_imbalance", "comm_sms")


def _json(*argv: str) -> dict[str, Any]:
    r = run(*argv)
    assert r.code == 0, r.err
    return json.loads(r.out)


def test_defaults_echo_nothing_and_explicit_defaults_are_byte_identical() -> None:
    plain = run(*PREFILL)
    explicit = run(*PREFILL, "--ep-dispatch", "per-expert", "--attn-imbalance", "1")
    assert plain.code == explicit.code == 0
    assert plain.out == explicit.out
    assert not set(WIDE) & set(json.loads(plain.out)["parallel"])


def test_per_node_dispatch_sends_a_token_once_per_remote_node() -> None:
    # DeepSeek-V3 (256 experts, top-8 of 4 of 8 groups) over EP32 on h800 (8-chip NVLink domains): 4 nodes.
    # Per node, each dispatch/combine puts remote_nodes / top_k of the per-expert bytes on the 50 GB/s NIC
    # (plus its 5 us latency), which outlasts forwarding inside the node (b x 7/8 over 200 GB/s)
    base, node = _json(*PREFILL), _json(*PREFILL, "--ep-dispatch", "per-node")
    assert node["parallel"]["ep_dispatch"] == "per_node"
    b, x = node["prefill_expert_parallel"], base["prefill_expert_parallel"]
    assert b["algorithm"].endswith(",per-node") and not x["algorithm"].endswith("per-node")
    f = remote_nodes(256, 8, 4, 8, 4) / 8
    assert 0.27 < f < 0.28  # ~2.2 remote nodes of a token's 8 expert copies
    net = network_of(resolve_chip("h800"))
    assert net is not None and net.scale_out is not None
    nic = net.scale_out
    one = f * b["imbalance"] * b["dispatch_bytes_per_chip"] / nic.bw_bytes_per_s + nic.latency_s
    moe_layers = 61 - 3  # bf16: the combine carries as many bytes as the dispatch
    assert b["all_to_all_s"] == pytest.approx(2 * moe_layers * one, rel=1e-9)
    # per-expert: (ep - d) / ep = 3/4 of the bytes over the NIC; per-node needs 0.27 / 0.75 of that
    assert b["all_to_all_s"] / x["all_to_all_s"] == pytest.approx(f / 0.75, rel=0.08)
    assert b["compute_s"] == x["compute_s"]
    assert node["prefill_s"] == pytest.approx(base["prefill_s"] - x["all_to_all_s"] + b["all_to_all_s"])


def test_comm_sms_slow_the_overlapped_compute_by_at_most_the_core_share() -> None:
    # 24 of h800's 132 SMs held by the all-to-all: the matrix/vector rates scale by 108/132, HBM does not,
    # so a (mostly compute-bound) 16k-token prefill's compute slows by just under 132/108 = 1.222
    argv = ("estimate", *V3, "--ep", "32", "--tbo", "--batch", "32", "--prompt", "16384", "--json")
    base, held = _json(*argv), _json(*argv, "--comm-sms", "24")
    assert held["parallel"]["comm_sms"] == 24
    x, y = base["prefill_expert_parallel"], held["prefill_expert_parallel"]
    assert 1.18 < y["compute_s"] / x["compute_s"] <= 132 / 108 + 1e-12
    assert y["all_to_all_s"] == x["all_to_all_s"]


def test_attn_imbalance_slows_the_hottest_ranks_decode_attention_only() -> None:
    base, hot = _json(*DECODE), _json(*DECODE, "--attn-imbalance", "1.5")
    assert hot["parallel"]["attn_imbalance"] == 1.5
    x, y = base["decode_expert_parallel"], hot["decode_expert_parallel"]
    # only the attention kernels (a part of the step) run 1.5x longer
    assert 0 < y["compute_s"] - x["compute_s"] < 0.5 * x["compute_s"]
    assert y["all_to_all_s"] == x["all_to_all_s"]
    assert hot["decode_step_s"] > base["decode_step_s"]


def test_estimate_json_with_the_options_validates_against_its_schema() -> None:
    d = _json(*PREFILL, "--tbo", "--ep-dispatch", "per-node", "--attn-imbalance", "1.2", "--comm-sms", "20")
    assert {k: d["parallel"][k] for k in WIDE} == {
        "ep_dispatch": "per_node",
        "attn_imbalance": 1.2,
        "comm_sms": 20,
    }
    jsonschema.validate(d, schemas.load("estimate"))


@pytest.mark.parametrize(
    ("args", "flag", "fix"),
    [
        (("--ep", "1", "--ep-dispatch", "per-node"), "--ep-dispatch", "set --ep > 1"),
        (("--ep", "8", "--ep-dispatch", "per-node"), "--ep-dispatch", "set --ep > 8"),
        (("--ep", "32", "--ep-dispatch", "per-rank"), "--ep-dispatch", "per-expert"),
        (("--ep", "32", "--tbo", "--comm-sms", "132"), "--comm-sms", "fewer than 132"),
        (("--ep", "32", "--comm-sms", "24"), "--comm-sms", "add --tbo"),
        (("--ep", "32", "--tbo", "--comm-sms", "-1"), "--comm-sms", ">= 0"),
        (("--ep", "32", "--tbo", "--comm-sms", "many"), "--comm-sms", "integer"),
        (("--comm-sms", "24"), "--comm-sms", "set --ep > 1"),
        (("--ep", "32", "--attn-imbalance", "0.9"), "--attn-imbalance", "use 1"),
        (("--ep", "32", "--attn-imbalance", "nan"), "--attn-imbalance", "use 1"),
        (("--ep", "32", "--attn-imbalance", "inf"), "--attn-imbalance", "use 1"),
        (("--ep", "32", "--attn-imbalance", "x"), "--attn-imbalance", "float"),
        (("--attn-imbalance", "1.2"), "--attn-imbalance", "set --ep > 1"),
    ],
)
def test_bad_values_are_one_error_line_naming_the_option(args: tuple[str, ...], flag: str, fix: str) -> None:
    r = run("estimate", *V3, "--batch", "32", *args)
    assert r.one_error_line, r.err
    last = r.err.strip().splitlines()[-1]
    assert last.startswith(f"error: {flag}") and fix in last, last


SERVE = ("serve", *V3, "--dtype", "fp8", "--ep", "32", "--limit", "20", "--json", "--no-timings")


def test_serve_takes_dispatch_and_attention_imbalance_and_refuses_comm_sms() -> None:
    d = _json(*SERVE, "--ep-dispatch", "per-node", "--attn-imbalance", "1.2")
    assert d["deployment"]["parallel"]["ep_dispatch"] == "per_node"
    assert d["deployment"]["parallel"]["attn_imbalance"] == 1.2
    jsonschema.validate(d, schemas.load("serve"))
    r = run(*SERVE, "--tbo", "--comm-sms", "24")
    assert r.one_error_line and "error: --comm-sms: " in r.err and "estimate" in r.err


def test_serve_per_node_goes_to_both_pools_and_needs_a_group_over_nodes() -> None:
    # prefill EP16 and decode EP32 span 2 and 4 nodes: both pools take per-node dispatch
    pools = ("serve", *V3, "--dtype", "fp8", "--ep", "16", "--decode-ep", "32", "--topology", "disagg")
    d = _json(*pools, "--limit", "20", "--ep-dispatch", "per-node", "--json", "--no-timings")
    assert d["deployment"]["parallel"]["ep_dispatch"] == "per_node"
    assert d["deployment"]["decode_parallel"]["ep_dispatch"] == "per_node"
    # an 8-chip group fits one NVLink domain: nothing to deduplicate across nodes
    r = run("serve", *V3, "--ep", "8", "--limit", "20", "--ep-dispatch", "per-node", "--json")
    assert r.one_error_line and "set --ep > 8" in r.err
