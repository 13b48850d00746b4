"""What changed between the v4.1 and v5.1 H200 Llama-2-70B MLPerf submissions, against the model
(docs/validation-405b.md, "H200 across rounds").

Before the fused GEMM + SwiGLU plugin was priced, the model read NVIDIA's v4.1 offline row (TensorRT 10.2)
at +0.5% and HPE's v5.1 one (TensorRT 10.11) at -10.1%: published, the 700 W H200 rose 12% between rounds.

    /work/bin/jpy scripts/h200_rounds.py configs V41_GIT_DIR V51_GIT_DIR  # engine flags of every H200 row
    /work/bin/jpy scripts/h200_rounds.py build-flags V51_GIT_DIR > TRTLLM_BUILD_CSV   # the plugin rows
    /work/bin/jpy scripts/h200_rounds.py steps V41_GIT_DIR V51_GIT_DIR    # every 700 W log: batch and step
    /work/bin/jpy scripts/h200_rounds.py offline V41_GIT_DIR              # the offline rows' sensitivities
    /work/bin/jpy scripts/h200_rounds.py variant plugin-gemm-20           # calibrate --all --json, a variant

(TRTLLM_BUILD_CSV: src/jalapeno/data/published_engines/trtllm_build.csv, read by cost.published.)
configs: each bundled H200 row's TensorRT-LLM build flags (v5.1: its config file's MaxP block, comments
dropped; v4.1: the flags NVIDIA's code/llama2-70b/tensorrt/builder.py passes, which has no fused GEMM +
SwiGLU, FP8 context attention or multiple profiles) and its error. build-flags: the rows whose v5.1
configuration sets gemm_swiglu_plugin (cost.fused_swiglu prices them). steps: every 700 W H200-SXM
Llama-2-70B server and interactive run of both rounds (MaxQ, the 1,000 W CTS systems, GH200 and H200 NVL
left out): requests decoding a GPU by Little's law (samples/s x (latency - TTFT) / GPUs; TP1) and the mean
TPOT, against the model's mean step at that batch under the round's bundled row configuration. offline:
what moves the offline row in the model (batch, token budget, step overhead, power limit against NVIDIA's
v4.1 500 W MaxQ and 1,000 W CTS runs), where its cycle goes, and the gate/up GEMM speed-up that would close
it. variant: ``plugin-gemm-N`` makes the plugin rows' (``PLUGIN_ROWS``) gate/up GEMM N% faster at the same
energy on top of the priced bytes: a diagnostic of what the rows would need, not a sourced figure, not
adopted.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
import sys
from dataclasses import replace
from typing import Any

from mlperf_log_summaries import summary  # the bundled log file's parser (same directory)

from jalapeno.cost import published_checks, published_fit, scenario_limits, scenario_steps, step
from jalapeno.cost.fused_swiglu import fused_swiglu
from jalapeno.cost.params import CostParams
from jalapeno.cost.published import PublishedRow, load_published
from jalapeno.cost.published_run import calibrate_all, preset_or_none
from jalapeno.cost.scenario_limits import row_replica

CHIP, MODEL = "h200-sxm", "llama-2-70b"
FLAGS = ("gemm_swiglu_plugin", "use_fp8_context_fmha", "multiple_profiles", "use_paged_context_fmha")
V41_BUILDER = "closed/NVIDIA/code/llama2-70b/tensorrt/builder.py"
# bundled rows whose published configuration sets gemm_swiglu_plugin: fp8 (``configs`` lists them)
PLUGIN_ROWS = frozenset(
    {
        "5.1-0049:llama2-70b-99:Offline",  # HPE
        "5.1-0026:llama2-70b-99:Server",  # Dell
    }
)
# NVIDIA's v4.1 H200 Llama-2-70B offline runs at three power limits (TensorRT 10.2): the MaxQ config's
# power_limit, and the systems' hw_notes "H200 TGP 700W" / "H200 TGP 1000W" (systems/*.json)
V41_POWER_RUNS = (
    (500.0, "closed/NVIDIA/results/H200-SXM-141GBx8_TRT_MaxQ/llama2-70b-99/Offline"),
    (700.0, "closed/NVIDIA/results/H200-SXM-141GBx8_TRT/llama2-70b-99/Offline"),
    (1000.0, "closed/NVIDIA/results/H200-SXM-141GB-CTSx8_TRT/llama2-70b-99/Offline"),
)
NOT_700W = ("MaxQ", "CTS", "GH200", "NVL")


def git_show(repo: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", repo, "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout


def git_files(repo: str) -> list[str]:
    out = subprocess.run(
        ["git", "-C", repo, "ls-tree", "-r", "--name-only", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.splitlines()


def h200_fit() -> tuple[list[PublishedRow], CostParams, Any]:
    rows = load_published()
    fits, _ = calibrate_all(rows, chips=[CHIP])
    return rows, fits[CHIP].params, preset_or_none(CHIP)


def uncommented(text: str) -> str:
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def maxp_block(text: str) -> str:
    """A v5.1 config file's 99%-accuracy full-power block (the one the bundled rows read), comments dropped
    (Quanta's Llama-3.1-8B files carry ``# 'gemm_swiglu_plugin': 'fp8'`` commented out)."""
    text = uncommented(text)
    at = text.find("PowerSetting.MaxP")
    end = text.find("C.WorkloadSetting(", at + 1)
    return text[at:end] if at >= 0 else text


# -- configs -------------------------------------------------------------------------------------------
def configs(v41: str, v51: str) -> None:
    rows, prm, chip = h200_fit()
    builder = git_show(v41, V41_BUILDER)
    for r in sorted((r for r in rows if r.chip == CHIP and r.config_url), key=lambda r: (r.model, r.round)):
        repo = v51 if r.round == "v5.1" else v41
        text = git_show(repo, r.config_url.split("/blob/main/", 1)[1])
        text = maxp_block(text) if r.round == "v5.1" else builder
        flags = [f for f in FLAGS if f in text]
        pred = published_fit.analytic_predictor(r, chip, prm)
        err = f"{pred / r.per_chip - 1:+.1%}" if pred else "-"
        s = r.serving
        print(
            f"{r.round} {r.model} {r.scenario} {r.submitter}: budget {s.max_num_tokens if s else '-'}, "
            f"cap {s.max_batch if s else '-'}, flags {flags or 'none'}; model {err}"
        )


def build_flags(v51: str) -> None:
    """The bundled rows whose v5.1 TensorRT-LLM configuration sets gemm_swiglu_plugin (CSV on stdout,
    src/jalapeno/data/published_engines/trtllm_build.csv). v4.1 rows carry none: no TensorRT code in that
    round's closed tree mentions SwiGLU (``git grep -i swiglu HEAD -- closed/`` finds only vLLM sources)."""
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["id", "gemm_swiglu_plugin", "source", "read"])
    for r in load_published():
        if r.round != "v5.1" or not r.software.startswith("TensorRT") or not r.config_url:
            continue
        block = maxp_block(git_show(v51, r.config_url.split("/blob/main/", 1)[1]))
        m = re.search(r"'gemm_swiglu_plugin':\s*'(\w+)'", block)
        if m:
            w.writerow([r.id, m.group(1), r.config_url, READ_NOTE])


READ_NOTE = (
    "the 99%-accuracy MaxP block's trtllm_build_flags set 'gemm_swiglu_plugin': 'fp8' (with use_fused_mlp); "
    "every v5.1 H200-SXM Llama-2-70B offline and server configuration (9 systems of 8 submitters) does, no "
    "interactive, Llama-3.1-8B, Llama-3.1-405B or Mixtral one"
)


# -- steps ---------------------------------------------------------------------------------------------
def gpus(repo: str, submitter: str, system: str) -> int:
    sysjson = json.loads(git_show(repo, f"closed/{submitter}/systems/{system}.json"))
    return int(sysjson["accelerators_per_node"]) * int(sysjson.get("number_of_nodes") or 1)


def logged_runs(repo: str) -> list[tuple[str, str, str, dict[str, float]]]:
    """(submitter, system, scenario, log summary): each 700 W H200-SXM Llama-2-70B server/interactive run."""
    out = []
    for f in git_files(repo):
        parts = f.split("/")
        if len(parts) < 8 or parts[0] != "closed" or parts[4] != "llama2-70b-99":
            continue
        if parts[5] not in ("Server", "Interactive") or not f.endswith("run_1/mlperf_log_summary.txt"):
            continue
        if "H200" not in parts[3].upper() or any(x in parts[3] for x in NOT_700W):
            continue
        out.append((parts[1], parts[3], parts[5].lower(), summary(repo, f)))
    return out


def steps(v41: str, v51: str) -> None:
    rows, prm, chip = h200_fit()
    ref = {(r.round, r.scenario): r for r in rows if (r.chip, r.model) == (CHIP, MODEL) and r.tp == 1}
    points: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for rnd, repo in (("v4.1", v41), ("v5.1", v51)):
        for who, system, scen, s in logged_runs(repo):
            b = s["samples_per_s"] * (s["latency_mean_s"] - s["ttft_mean_s"]) / gpus(repo, who, system)
            rs = row_replica(ref[rnd, scen], chip, prm, 1)
            assert rs is not None
            model_s, tpot = rs[0].cycle(round(b)).time_s, s["tpot_mean_s"]
            points.setdefault((rnd, scen), []).append((b, tpot, model_s))
            print(
                f"{rnd} {scen} {who} {system}: {b:.0f} requests a GPU, mean TPOT {tpot * 1e3:.1f} ms, "
                f"model {model_s * 1e3:.1f} ms ({tpot / model_s - 1:+.1%}), {b / tpot:,.0f} tok/s/GPU"
            )
    for key, pts in sorted(points.items()):
        ratios = [t / m for _, t, m in pts]
        line = ""
        if len(pts) > 2:
            slope, icpt = statistics.linear_regression([p[0] for p in pts], [p[1] for p in pts])
            line = f"; published line {icpt * 1e3:.1f} ms + {slope * 1e3:.4f} ms a request"
        spread = f"{min(ratios) - 1:+.1%} to {max(ratios) - 1:+.1%}"
        print(
            f"{key[0]} {key[1]}: {len(pts)} runs, published / model step median "
            f"{statistics.median(ratios) - 1:+.1%} ({spread}){line}"
        )


# -- offline -------------------------------------------------------------------------------------------
def offline(v41: str) -> None:
    rows, prm, chip = h200_fit()
    off = {r.round: r for r in rows if (r.chip, r.model, r.scenario) == (CHIP, MODEL, "offline")}
    for rnd, r in sorted(off.items()):
        res = published_fit.analytic_result(r, chip, prm)
        assert res is not None
        print(
            f"{rnd} offline ({r.submitter}, budget {r.serving.max_num_tokens if r.serving else '-'}): "
            f"published {r.per_chip:,.0f}, model {res.tokens_per_s_per_chip:,.0f} at {res.batch} requests"
        )
    r41, r51 = off["v4.1"], off["v5.1"]
    for b in (512, 768, 1024, 1500):
        print(f"  v4.1 configuration at {b} requests: {at_batch(r41, chip, prm, b):,.0f} tok/s/GPU")
    print(f"  no step overhead: {predict(r51, chip, replace(prm, step_overhead_s=0.0)):,.0f}")
    published_700 = per_gpu(v41, V41_POWER_RUNS[1][1])
    for watts, path in V41_POWER_RUNS:
        spec = replace(chip, tdp_w=replace(chip.tdp_w, value=watts))
        pub = per_gpu(v41, path)
        print(
            f"  v4.1 at {watts:.0f} W: published {pub:,.0f} ({pub / published_700:.3f} of 700 W), model "
            f"{predict(r41, spec, prm):,.0f} ({predict(r41, spec, prm) / predict(r41, chip, prm):.3f})"
        )
    breakdown(r51, chip, prm)
    needed = gate_up_needed(r51, chip, prm)
    print(f"  gate/up GEMM speed-up that brings the v5.1 row to its published value: {needed:.0%}")


def predict(r: PublishedRow, chip: Any, prm: CostParams) -> float:
    res = published_fit.analytic_result(r, chip, prm)
    assert res is not None
    return res.tokens_per_s_per_chip


def at_batch(r: PublishedRow, chip: Any, prm: CostParams, b: int) -> float:
    rs = row_replica(r, chip, prm, 1)
    assert rs is not None
    return b / rs[0].cycle(b).time_s


def per_gpu(repo: str, result_dir: str) -> float:
    text = git_show(repo, f"{result_dir}/performance/run_1/mlperf_log_summary.txt")
    tokens = next(float(x.split(":")[1]) for x in text.splitlines() if x.startswith("Tokens per second"))
    return tokens / 8


def breakdown(r: PublishedRow, chip: Any, prm: CostParams) -> None:
    """The offline cycle at the model's batch: the decode step, and the share of steps with a full chunk."""
    res = published_fit.analytic_result(r, chip, prm)
    rs = row_replica(r, chip, prm, 1)
    assert res is not None and rs is not None
    reps, b = rs[0], res.batch
    share = min(1.0, reps.chunk_tokens(b) / max(1, reps.room(b)))
    g_dec = scenario_steps.graph_of(reps.model, "decode", b, reps.ctx, reps.precision)
    g_full = scenario_steps.mixed_graph(
        reps.model, b, reps.ctx, reps.room(b), reps.isl, reps.precision, reps.biased_isl
    )
    if reps.cfg is not None and reps.cfg.fused_swiglu:  # as ReplicaSteps prices it
        g_dec, g_full = fused_swiglu(g_dec), fused_swiglu(g_full)
    dec, full = reps.est.step(g_dec, cuda_graph=reps.graphs), reps.est.step(g_full, cuda_graph=reps.graphs)
    parts: dict[str, float] = {}
    for w, c in ((1.0 - share, dec), (share, full)):
        for oc in c.ops:
            key = oc.op.name if oc.op.kind in ("matmul", "lm_head") or oc.op.name == "act" else oc.op.kind
            parts[key] = parts.get(key, 0.0) + w * oc.total_s
        parts["power throttle"] = parts.get("power throttle", 0.0) + w * c.throttle_s
        parts["step overhead"] = parts.get("step overhead", 0.0) + w * c.overhead_s
    cycle = reps.cycle(b).time_s
    print(f"  v5.1 offline cycle {cycle * 1e3:.1f} ms at {b} requests ({share:.0%} of steps carry a chunk):")
    for k, v in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"    {k}: {v * 1e3:.1f} ms ({v / cycle:.1%})")


def gate_up_needed(r: PublishedRow, chip: Any, prm: CostParams) -> float:
    """The gate/up GEMM speed-up (same energy, on top of the priced plugin bytes) at which the model meets
    the published row, by bisection."""
    lo, hi = 0.0, 0.9
    for _ in range(25):
        mid = (lo + hi) / 2
        with_gemm = Patched(gemm_faster=mid, rows=frozenset({r.id}))
        with_gemm.install()
        got = predict(r, chip, prm)
        with_gemm.uninstall()
        lo, hi = (mid, hi) if got < r.per_chip else (lo, mid)
    return lo


# -- variants ------------------------------------------------------------------------------------------
class Patched:
    """The plugin rows (``rows``) with their gate/up GEMM ``gemm_faster`` shorter at the same energy (a
    diagnostic on top of cost.fused_swiglu's bytes); other rows are priced as before."""

    active = False

    def __init__(self, *, gemm_faster: float, rows: frozenset[str] = PLUGIN_ROWS):
        self.gemm_faster, self.rows = gemm_faster, rows
        self.saved: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        for mod in (published_fit, scenario_limits, published_checks):
            self._swap(mod, "analytic_result", self._result(mod.analytic_result))
        self._swap(step.Estimator, "price_op_list", self._priced(step.Estimator.price_op_list))

    def uninstall(self) -> None:
        for obj, name, old in reversed(self.saved):
            setattr(obj, name, old)
        self.saved.clear()

    def _swap(self, obj: Any, name: str, new: Any) -> None:
        self.saved.append((obj, name, getattr(obj, name)))
        setattr(obj, name, new)

    def _result(self, original: Any) -> Any:
        def wrapped(row: PublishedRow, *a: Any, **kw: Any) -> Any:
            before, Patched.active = Patched.active, row.id in self.rows
            try:
                return original(row, *a, **kw)
            finally:
                Patched.active = before

        return wrapped

    def _priced(self, original: Any) -> Any:
        faster = self.gemm_faster

        def wrapped(est: step.Estimator, ops: Any, *, cuda_graph: bool = True) -> Any:
            costs, t_dev, e_dyn, host = original(est, ops, cuda_graph=cuda_graph)
            if Patched.active:
                t_dev -= faster * sum(c.total_s for c in costs if c.op.name == "gate_up")
            return costs, t_dev, e_dyn, host

        return wrapped


def variant(name: str) -> None:
    if not name.startswith("plugin-gemm-"):
        raise SystemExit(f"unknown variant {name!r}: plugin-gemm-N")
    Patched(gemm_faster=int(name.rsplit("-", 1)[1]) / 100).install()
    from jalapeno.cli import main

    sys.exit(main(["calibrate", "--all", "--json"]))


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "variant":
        variant(args[0])
    elif what == "build-flags":
        build_flags(args[0])
    elif what == "offline":
        offline(args[0])
    elif what in ("configs", "steps"):
        (configs if what == "configs" else steps)(args[0], args[1])
    else:
        raise SystemExit(f"unknown command {what!r}: configs, build-flags, steps, offline, variant")
