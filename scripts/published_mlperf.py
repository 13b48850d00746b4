"""Extract MLPerf Inference datacenter LLM results into jalapeno/data/published/mlperf.csv.

Run against local clones (or bare mirrors) of github.com/mlcommons/inference_results_v4.1 and
inference_results_v5.1:

    python scripts/published_mlperf.py V41_GIT_DIR V51_GIT_DIR > src/jalapeno/data/published/mlperf.csv
    python scripts/published_mlperf.py V41_GIT_DIR V51_GIT_DIR --power > src/jalapeno/data/published/mlperf_power.csv

v5.1 rows come from the round's ``summary_results.json``; v4.1 rows from each result's
``performance/run_1/mlperf_log_summary.txt`` and the system's ``systems/<platform>.json``.
Per (round, chip, model, scenario, GPUs per system) one row is kept: the chip vendor's own submission
where there is one, else the median submission; ``n_submissions`` and the spread are recorded with it.
Each row also gets its system description's ``accelerator_interconnect`` (the board: 18 NVLinks into
NVSwitches, or 6 a peer on the switchless 4-GPU HGX board) and the serving configuration its submitter published (tp, pp, max batch per replica, the
per-step token budget, CUDA graphs, and the file read: ``config_url``): v5.1 TensorRT-LLM harness configs
(configs/<system>/<Scenario>/<model>.py), v4.1 ones (config classes under configs/<model>/<Scenario>/),
AMD's v5.1 vLLM harness yaml (code/<model>/harness_llm/models/), and mlperf_configs_manual.csv beside this
script for configurations kept in code (AMD v4.1). Open-division results (MI355X only) that served another
checkpoint on a benchmark's requests name the model that ran (``VARIANTS``: AMD's pruned 405B) or are left out
where that model is not bundled. Only single-node systems of one chip kind, or a Grace-Blackwell NVLink
domain of several nodes (GB200/GB300 NVL72 racks, GB300 NVL8: ``one_domain``); the 99% accuracy target
(99.9% runs the same engines); no
custom-thermal (CTS, 1000 W H200) or MaxQ (power-capped) systems, which are not the presets' parts.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

CHIPS = {"NVIDIA H100-SXM-80GB": "h100-sxm", "NVIDIA H200-SXM-141GB": "h200-sxm",
         "NVIDIA B200-SXM-180GB": "b200", "NVIDIA GB200": "gb200-nvl72", "NVIDIA GB300": "gb300-nvl72",
         "AMD Instinct MI300X 192GB HBM3": "mi300x", "AMD Instinct MI325X 256GB HBM3e": "mi325x",
         "AMD Instinct MI355X 288GB HBM3e": "mi355x"}
MODELS = {"llama2-70b-99": "llama-2-70b", "llama3.1-405b": "llama-3.1-405b", "mixtral-8x7b": "mixtral-8x7b",
          "llama3.1-8b": "llama-3.1-8b", "deepseek-r1": "deepseek-r1"}
DATES = {"v4.1": "2024-08-28", "v5.1": "2025-09-09"}
VENDOR = {"h100-sxm": "NVIDIA", "h200-sxm": "NVIDIA", "b200": "NVIDIA", "gb200-nvl72": "NVIDIA", "gb300-nvl72": "NVIDIA",
          "mi300x": "AMD", "mi325x": "AMD", "mi355x": "AMD"}
FIELDS = ["id", "round", "date", "division", "submitter", "system", "chip", "n_chips", "model", "scenario",
          "precision", "software", "value", "unit", "power_w", "n_submissions", "value_min", "value_max",
          "url", "tp", "pp", "max_batch", "max_num_tokens", "cuda_graphs", "gemm_allreduce", "ep", "attention_dp",
          "config_url", "interconnect"]
CONFIG_FIELDS = FIELDS[-10:-1]
# the submitter's configuration file of a result: TensorRT-LLM harness configs (configs/<system>/<Scenario>/
# <model>.py) and AMD's vLLM harness (code/<model>/harness_llm/models/<model>/<scenario>_<chip>.yaml)
CONFIG_MODEL = {"llama2-70b-99": "llama2-70b", "llama3.1-405b": "llama3_1-405b", "llama3.1-8b": "llama3_1-8b",
                "mixtral-8x7b": "mixtral-8x7b", "llama3_1-405b_pruned": "llama3-405b", "deepseek-r1": "deepseek-r1"}
# open-division results kept besides AMD's MI355X ones: benchmarks whose open results ran the benchmark's own
# model (summary_results.json UsedModel; HPE's H200 DeepSeek-R1 offline run, fp8, is open only)
OPEN_MODELS = ("deepseek-r1",)
# open-division results that ran another checkpoint on a benchmark's dataset, by the result's model directory:
# the model it served (a bundled alias), or None where that model is not bundled (the row is left out).
# AMD's llama3_1-405b_pruned serves the 405B less layers 59-84 (its harness yaml and scripts/drop_layers.py);
# llama3_1-405b_finetuned a LoRA-fine-tuned 84-layer checkpoint (mlperf_finetune/quantization/config.json)
VARIANTS = {"llama3_1-405b_pruned": "llama-3.1-405b-pruned", "llama3_1-405b_finetuned": None}


def git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout


def chip_of(name: str) -> str | None:
    if "Virtualized" in name or "," in name:
        return None
    for k, v in CHIPS.items():
        if name.lower().startswith(k.lower()):
            return v
    if re.search(r"MI300X", name) and "MI325" not in name:
        return "mi300x"
    return None


def one_domain(r: dict, chip: str) -> bool:
    """A single node, or a multi-node Grace-Blackwell system that is one NVLink switch domain: the
    GB200/GB300 NVL72 racks (18 compute trays of 4 GPUs) and CoreWeave's GB300 NVL8 (two trays on NVLink
    switches: its systems/GB300-NVL8-CoreWeave_TRT.json, hw_notes "NVIDIA GB300 NVL8",
    accelerator_interconnect "5th-gen NVLink and NVLink Switches"). ``a#`` is GPUs per node there, so the
    system has a# x Nodes GPUs."""
    return r["Nodes"] == 1 or (chip in ("gb200-nvl72", "gb300-nvl72") and "NVL" in r["Platform"])


def v51_rows(repo: str) -> list[dict]:
    out = []
    for r in json.loads(git(repo, "show", "HEAD:summary_results.json")):
        chip, model = chip_of(r["Accelerator"]), MODELS.get(r["Model"])
        if not chip or not model or r["Suite"] != "datacenter" or not one_domain(r, chip):
            continue
        open_ok = chip == "mi355x" or (r["Model"] in OPEN_MODELS and r["UsedModel"] == r["Model"])
        if r["Performance_Units"] != "Tokens/s" or (r["Category"] != "closed" and not open_ok):
            continue
        variant = r["Location"].rstrip("/").split("/")[-2]  # the result's model directory
        if variant in VARIANTS and (model := VARIANTS[variant]) is None:
            continue
        out.append({"id": f"{r['ID']}:{r['Model']}:{r['Scenario']}" + (":power" if r.get("Power_Result") else ""), "round": "v5.1", "division": r["Category"], "submitter": r["Submitter"],
                    "system": r["Platform"], "chip": chip, "n_chips": int(r["a#"]) * int(r["Nodes"]),
                    "model": model,
                    "scenario": r["Scenario"].lower(), "precision": r["weight_data_types"].lower(),
                    "software": r["Software"].split(",")[0][:60], "value": float(r["Performance_Result"]),
                    "unit": "tokens/s", "power_w": r.get("Power_Result") or "",
                    "url": f"https://github.com/mlcommons/inference_results_v5.1/tree/main/{r['Location']}"})
    return out


def v41_rows(repo: str) -> list[dict]:
    out = []
    pat = re.compile(r"^closed/([^/]+)/results/([^/]+)/([^/]+)/(Offline|Server)/performance/run_1/"
                     r"mlperf_log_summary.txt$")
    for path in git(repo, "ls-tree", "-r", "--name-only", "HEAD", "closed").splitlines():
        m = pat.match(path)
        if not m or m.group(3) not in MODELS:
            continue
        sub, plat, mdl, scen = m.groups()
        try:
            sysd = json.loads(git(repo, "show", f"HEAD:closed/{sub}/systems/{plat}.json"))
        except subprocess.CalledProcessError:
            continue
        chip = chip_of(sysd.get("accelerator_model_name", ""))
        if not chip or int(sysd.get("number_of_nodes", 1)) != 1 or sysd.get("status") != "available":
            continue
        if any(tag in plat for tag in ("CTS", "MaxQ")):  # 1000 W custom-thermal parts; power-capped runs
            continue
        text = git(repo, "show", f"HEAD:{path}")
        if "Result is : VALID" not in text:
            continue
        tok = re.search(r"(?:Completed tokens per second|Tokens per second)\s*:\s*([0-9.]+)", text)
        if not tok:
            continue
        prec = "fp8"  # every v4.1 closed LLM submission on these chips ran FP8 weights (systems' notes)
        out.append({"id": f"4.1-{sub}-{plat}:{mdl}:{scen}", "round": "v4.1", "division": "closed", "submitter": sub,
                    "system": plat, "chip": chip, "n_chips": int(sysd["accelerators_per_node"]),
                    "model": MODELS[mdl], "scenario": scen.lower(), "precision": prec,
                    "software": sysd.get("framework", "").split(",")[0][:60], "value": float(tok.group(1)),
                    "unit": "tokens/s", "power_w": "",
                    "url": f"https://github.com/mlcommons/inference_results_v4.1/tree/main/{path.rsplit('/', 3)[0]}"})
    return out


def _nvidia_block(text: str) -> str | None:
    """The 99%-accuracy, full-power workload setting of a TensorRT-LLM harness config, with the shared
    ``base`` dict (llama3.1-8b configs) in front so the block's own fields come last and win."""
    head, _, exports = text.partition("EXPORTS")
    for part in re.split(r"(?=C\.WorkloadSetting\()", exports):
        if "AccuracyTarget(0.99)" in part and "MaxP" in part:
            return head + part
    return None


def _last(pattern: str, text: str) -> str | None:
    found = re.findall(pattern, text, re.S)
    return found[-1] if found else None


def nvidia_config(text: str) -> dict:
    """tp, pp, the batch cap (gpu_batch_size per engine, lowered by the executor's runtime max_batch_size
    where one is set), the runtime per-step token budget (only with chunked context: without it the
    budget caps a prefill batch, not a mixed step), use_graphs, and whether the engine was built with the
    GEMM + AllReduce fusion plugin (build flag gemm_allreduce_plugin). MoE engines also name their expert
    parallelism (moe_expert_parallelism) and whether attention runs data-parallel over the tensor-parallel
    group (build flag enable_attention_dp: DeepSeek-R1's; then gpu_batch_size is each attention rank's)."""
    b = _nvidia_block(text)
    if b is None:
        return {}
    runtime = _last(r"trtllm_runtime_flags:\s*\{(.*?)\}", b) or ""
    build = _last(r"trtllm_build_flags:\s*\{(.*?)\}", b) or ""
    chunked = "'enable_chunked_context': True" in runtime
    caps = [int(v) for v in (_last(r"gpu_batch_size:\s*\{\s*'[^']+':\s*(\d+)", b),
                             _last(r"'max_batch_size':\s*(\d+)", runtime)) if v]
    fused = _last(r"'gemm_allreduce_plugin':\s*'(\w+)'", build)
    return {"tp": _last(r"tensor_parallelism:\s*(\d+)", b), "pp": _last(r"pipeline_parallelism:\s*(\d+)", b),
            "max_batch": min(caps) if caps else None,
            "max_num_tokens": _last(r"'max_num_tokens':\s*(\d+)", runtime) if chunked else None,
            "cuda_graphs": _last(r"use_graphs:\s*(True|False)", b),
            "gemm_allreduce": fused in ("float16", "bfloat16"),
            "ep": _last(r"moe_expert_parallelism:\s*(\d+)", b),
            "attention_dp": _last(r"'enable_attention_dp':\s*(True|False)", b)}


def amd_config(text: str) -> dict:
    """vLLM engine arguments: tensor_parallel_size, max_num_seqs, max_num_batched_tokens (a mixed step's
    budget only with enable_chunked_prefill) and enforce_eager (no CUDA/HIP graphs)."""
    import yaml

    e = (yaml.safe_load(text) or {}).get("vllm_engine_config") or {}
    return {"tp": e.get("tensor_parallel_size"), "pp": e.get("pipeline_parallel_size", 1),
            "max_batch": e.get("max_num_seqs"),
            "max_num_tokens": e.get("max_num_batched_tokens") if e.get("enable_chunked_prefill") else None,
            "cuda_graphs": None if "enforce_eager" not in e else not e["enforce_eager"], "gemm_allreduce": None,
            "ep": None, "attention_dp": None}


def _v41_classes(repo: str, base: str, scen: str) -> dict[str, tuple[list[str], dict, bool]]:
    """Config classes of a v4.1 TensorRT-LLM harness (configs/<model>/{__init__, <Scenario>/__init__,
    <Scenario>/custom}.py): name -> (base names, literal attributes, registered for the 99% full-power
    custom harness). Later files win, as the harness's imports do."""
    import ast

    out: dict[str, tuple[list[str], dict, bool]] = {}
    for path in (f"{base}/__init__.py", f"{base}/{scen}/__init__.py", f"{base}/{scen}/custom.py"):
        try:
            tree = ast.parse(git(repo, "show", f"HEAD:{path}"))
        except subprocess.CalledProcessError:
            continue
        for node in tree.body:
            if not isinstance(node, ast.ClassDef):
                continue
            attrs = {}
            for st in node.body:
                if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name):
                    try:
                        attrs[st.targets[0].id] = ast.literal_eval(st.value)
                    except ValueError:
                        attrs[st.targets[0].id] = ast.unparse(st.value)
            reg = any(all(k in ast.unparse(d) for k in ("HarnessType.Custom", "AccuracyTarget.k_99,", "MaxP"))
                      for d in node.decorator_list)
            out[node.name] = ([ast.unparse(b) for b in node.bases], attrs, reg)
    return out


def _resolved(classes: dict, name: str) -> dict:
    bases, attrs, _ = classes.get(name, ([], {}, False))
    merged: dict = {}
    for b in reversed(bases):
        merged.update(_resolved(classes, b))
    return {**merged, **attrs}


def v41_config(repo: str, row: dict) -> tuple[dict, str] | None:
    """The class registered for the row's system (KnownSystem name: the platform less _TRT and NVIDIA's
    DGX prefix). TensorRT-LLM's in-flight batcher mixes context and generation tokens in one step of at
    most max_num_tokens."""
    div, sub, _, system, model, scen = row["url"].split("/tree/main/")[1].split("/")
    base = f"{div}/{sub}/configs/{CONFIG_MODEL.get(model, model)}"
    known = system.removesuffix("_TRT").removeprefix("DGX-H100_").replace("-", "_").lower()
    classes = _v41_classes(repo, base, scen)
    for name, (_, attrs, reg) in classes.items():
        if reg and str(attrs.get("system", "")).lower() == f"knownsystem.{known}":
            a = _resolved(classes, name)
            batch = a.get("gpu_batch_size")
            return ({"tp": a.get("tensor_parallelism"), "pp": a.get("pipeline_parallelism", 1),
                     "max_batch": next(iter(batch.values())) if isinstance(batch, dict) else None,
                     "max_num_tokens": a.get("max_num_tokens"), "cuda_graphs": a.get("use_graphs"),
                     "gemm_allreduce": "gemm_allreduce_plugin" in str(a.get("trtllm_build_flags", "")),
                     "ep": None, "attention_dp": None},
                    f"{base}/{scen}/{'custom' if sub != 'NVIDIA' else '__init__'}.py")
    return None


def config_paths(row: dict) -> list[tuple[str, str]]:
    """(kind, path) candidates of a row's configuration file in its round's repository."""
    div, sub, _, system, model, scen = row["url"].split("/tree/main/")[1].split("/")
    name = CONFIG_MODEL.get(model)
    if name is None:
        return []
    if sub == "AMD":
        chip = row["chip"]
        return [("amd", f"{div}/AMD/code/{model}/harness_llm/models/{name}/{scen.lower()}_{chip}.yaml")]
    # most systems' config folder drops the _TRT suffix; NVIDIA's GB300 NVL72 folder keeps it
    folders = (system.removesuffix("_TRT"), system)
    return [("nvidia", f"{div}/{sub}/configs/{s}/{scen}/{name}.py") for s in folders]


MANUAL = Path(__file__).with_name("mlperf_configs_manual.csv")


def manual_configs() -> dict[str, dict]:
    """Configurations read by hand where the submitter's harness keeps them in code, not a config file
    (AMD's v4.1 vLLM harness: engine defaults in its main scripts, flags in its run scripts); each row
    names the file and what was read in it."""
    with open(MANUAL, newline="") as f:
        return {r["id"]: {k: r.get(k) or "" for k in CONFIG_FIELDS} for r in csv.DictReader(f)}


def with_config(repo: str, row: dict) -> dict:
    """The row with its submitter's published serving configuration (blank where none was found)."""
    if (manual := manual_configs().get(row["id"])) is not None:
        return {**row, **manual}
    repo_name = row["url"].split("/tree/main/")[0]
    if row["round"] == "v4.1" and (found := v41_config(repo, row)):
        cfg = {k: ("" if v is None else str(v)) for k, v in found[0].items()}
        return {**row, **cfg, "config_url": f"{repo_name}/blob/main/{found[1]}"}
    for kind, path in config_paths(row):
        try:
            text = git(repo, "show", f"HEAD:{path}")
        except subprocess.CalledProcessError:
            continue
        cfg = (nvidia_config if kind == "nvidia" else amd_config)(text)
        if cfg.get("tp"):
            cfg = {k: ("" if v is None else str(v)) for k, v in cfg.items()}
            return {**row, **cfg, "config_url": f"{repo_name}/blob/main/{path}"}
    return {**row, **dict.fromkeys(CONFIG_FIELDS, "")}


def with_interconnect(repo: str, row: dict) -> dict:
    """The row with its system description's accelerator_interconnect, as written (closed/<submitter>/
    systems/<system>.json beside the result): the board its GPUs sat on (cost/published_board.py)."""
    div, sub, _, system = row["url"].split("/tree/main/")[1].split("/")[:4]
    try:
        sysd = json.loads(git(repo, "show", f"HEAD:{div}/{sub}/systems/{system}.json"))
    except subprocess.CalledProcessError:
        return {**row, "interconnect": ""}
    return {**row, "interconnect": str(sysd.get("accelerator_interconnect", "")).strip()}


def pick(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["round"], r["chip"], r["model"], r["scenario"], r["n_chips"])].append(r)
    out = []
    for key in sorted(groups):
        g = sorted(groups[key], key=lambda r: r["value"])
        own = [r for r in g if r["submitter"] == VENDOR[r["chip"]] and "MaxQ" not in r["system"]
               and "Triton" not in r["system"] and "CTS" not in r["system"]]
        best = own[0] if own else g[(len(g) - 1) // 2]
        out.append({**best, "date": DATES[best["round"]], "n_submissions": len(g),
                    "value_min": g[0]["value"], "value_max": g[-1]["value"]})
    return out


def power_rows(rows: list[dict]) -> list[dict]:
    """Every submission with a power measurement (MLPerf Power: wall power of the whole system)."""
    return [{**r, "date": DATES[r["round"]], "n_submissions": 1, "value_min": r["value"], "value_max": r["value"]}
            for r in sorted(rows, key=lambda r: r["id"]) if r["power_w"] not in ("", None)]


def main(v41: str, v51: str, power: bool = False) -> None:
    """mlperf.csv (one row per configuration); with ``--power``, mlperf_power.csv (every power run)."""
    w = csv.DictWriter(sys.stdout, FIELDS, lineterminator="\n")
    w.writeheader()
    rows = v41_rows(v41) + v51_rows(v51)
    repos = {"v4.1": v41, "v5.1": v51}
    for r in (power_rows(rows) if power else pick(rows)):
        r = with_interconnect(repos[r["round"]], with_config(repos[r["round"]], r))
        w.writerow({k: r[k] for k in FIELDS})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--power" in sys.argv[3:])
