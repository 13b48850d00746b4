"""Traces out, in the CSV formats other tools read (and ``load_trace`` reads back):

- ``plain``: ``arrival_s,prompt_tokens,output_tokens`` and, when any request has prefix-block hashes,
  ``hash_ids`` (space-separated integers, blocks of the trace's ``block_tokens``);
- ``vidur``: ``arrived_at,num_prefill_tokens,num_decode_tokens``, the fields of Vidur's ``Request``
  (microsoft/vidur, ``vidur/request_generator``), arrivals in seconds.

Arrivals are written with ``repr``, so a trace read back has the same arrivals to the nanosecond.
"""

from __future__ import annotations

import csv
from pathlib import Path

from jalapeno.workload.request import Trace

FORMATS = ("plain", "vidur")


def write_trace(trace: Trace, path: str | Path, fmt: str = "plain") -> int:
    """Write ``trace`` to ``path`` as ``fmt``; the number of requests written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}; expected one of {', '.join(FORMATS)}")
    hashes = fmt == "plain" and any(r.block_hashes for r in trace.requests)
    header = (
        ["arrived_at", "num_prefill_tokens", "num_decode_tokens"]
        if fmt == "vidur"
        else ["arrival_s", "prompt_tokens", "output_tokens"] + (["hash_ids"] if hashes else [])
    )
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in trace.requests:
            row = [repr(float(r.arrival_s)), r.prompt_tokens, r.output_tokens]
            w.writerow(row + ([" ".join(str(h) for h in r.block_hashes)] if hashes else []))
    return len(trace)
