"""The request record the serving tests build traces from (no tests here): the fields the simulator
and the KV cache read from a trace request. Files whose traces use another block size subclass it with
their own ``block_tokens`` default."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Req:
    request_id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...] = ()
    block_tokens: int | None = 512
    priority: int = 0
