"""The attention-DP scheduler settings of the MLPerf DeepSeek-R1 rows, read by hand from their configs.

``ADP_FILE`` (data/published_engines/trtllm_adp.csv) holds, per published row id, what the submitter's
configuration file sets beyond the row's CSV columns and ``cost.adp`` prices: the runtime
``max_num_tokens`` (TensorRT-LLM's PyTorch backend takes the runtime flag; no engine is built),
``adp_balancing_timeout_iters`` and ``adp_balancing_batching_wait_iters`` (NVIDIA llmlib config.py turns
them into ``attention_dp_config``), ``max_concurrency``, ``kvcache_free_gpu_mem_frac`` and
``cuda_graph_batch_sizes`` (all with ``cuda_graph_padding_enabled``), the file read (``source``) and what
was read. Every v5.1 DeepSeek-R1 configuration sets ``enable_chunked_context`` False and no speculative
(MTP) decoding. TensorRT-LLM's DeepSeek-R1 max-throughput recipe (the vendor row) runs attention DP without
``attention_dp_config``, so without the balance: every step takes the prompts that arrived, which the file
writes as a timeout of 1 step and no batching wait (``cost.adp.release_period`` is then 1). A row without
an entry keeps the plain expert-parallel pricing.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from jalapeno.cost.adp import ADPConfig
from jalapeno.cost.published import data_dir
from jalapeno.errors import JalapenoError

ADP_FILE = "published_engines/trtllm_adp.csv"
COLUMNS = (
    "id",
    "max_num_tokens",
    "timeout_iters",
    "batching_wait_iters",
    "max_concurrency",
    "kv_mem_frac",
    "graph_batch_sizes",
    "source",
)


@cache
def load_adp(path: Path | None = None) -> dict[str, ADPConfig]:
    """Row id -> its attention-DP settings; a bad record names its id and column."""
    with open(path or data_dir().parent / ADP_FILE, newline="") as f:
        return dict(_record(d) for d in csv.DictReader(f))


def _record(d: dict[str, str]) -> tuple[str, ADPConfig]:
    rid = d.get("id") or "?"
    missing = [c for c in COLUMNS if not d.get(c)]
    if missing:
        raise JalapenoError(f"{ADP_FILE} row {rid}: {missing[0]} is empty; fill it in", field=missing[0])
    sizes = tuple(sorted(_int(d, rid, "graph_batch_sizes", s) for s in d["graph_batch_sizes"].split()))
    return rid, ADPConfig(
        _int(d, rid, "max_num_tokens"),
        _int(d, rid, "timeout_iters"),
        _int(d, rid, "batching_wait_iters"),
        _int(d, rid, "max_concurrency"),
        _frac(d, rid),
        sizes,
        d["source"],
    )


def _int(d: dict[str, str], rid: str, col: str, text: str | None = None) -> int:
    try:
        return int(d[col] if text is None else text)
    except ValueError:
        raise JalapenoError(
            f"{ADP_FILE} row {rid}: {col} has {d[col]!r}; write whole numbers (graph_batch_sizes: "
            "separated by spaces)",
            field=col,
        ) from None


def _frac(d: dict[str, str], rid: str) -> float:
    try:
        return float(d["kv_mem_frac"])
    except ValueError:
        raise JalapenoError(
            f"{ADP_FILE} row {rid}: kv_mem_frac has {d['kv_mem_frac']!r}; write a number in (0, 1]",
            field="kv_mem_frac",
        ) from None


def adp_config(row_id: str) -> ADPConfig | None:
    """The row's attention-DP settings, None where none were read."""
    return load_adp().get(row_id)
