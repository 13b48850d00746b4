"""An optional lower KV tier (host DRAM or SSD) below a replica's HBM pool.

It holds two kinds of content, both in blocks of the replica's block size:
- prefix units evicted from the HBM pool (an LRU, oldest dropped first when space is needed);
- swap space: the KV of requests preempted with ``preemption="swap"`` (reserved, never evicted).
Every copy in or out goes over one FIFO link of ``bandwidth_bytes_per_s`` plus ``latency_s``:
a transfer starts when the previous one on the link is done.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from jalapeno.errors import JalapenoError


@dataclass(frozen=True)
class TierSpec:
    """A lower KV tier per replica. Example: host DRAM over PCIe 5.0 x16, about 50e9 B/s."""

    capacity_bytes: float
    bandwidth_bytes_per_s: float
    latency_s: float = 0.0
    name: str = "host"

    def __post_init__(self) -> None:
        if self.capacity_bytes < 0:
            raise JalapenoError(f"must be >= 0, got {self.capacity_bytes}", field="tier.capacity_bytes")
        if self.bandwidth_bytes_per_s <= 0:
            raise JalapenoError(
                f"must be > 0, got {self.bandwidth_bytes_per_s}", field="tier.bandwidth_bytes_per_s"
            )
        if self.latency_s < 0:
            raise JalapenoError(f"must be >= 0, got {self.latency_s}", field="tier.latency_s")


class LowerTier:
    __slots__ = (
        "_lru",
        "block_bytes",
        "bytes_moved",
        "capacity_blocks",
        "drops",
        "link_free_s",
        "reserved_blocks",
        "spec",
        "used_blocks",
    )

    def __init__(self, spec: TierSpec, block_bytes: float) -> None:
        self.spec = spec
        self.block_bytes = block_bytes
        self.capacity_blocks = int(spec.capacity_bytes // block_bytes) if block_bytes > 0 else 0
        self.used_blocks = 0  # prefix units
        self.reserved_blocks = 0  # swap space
        self.link_free_s = 0.0
        self._lru: OrderedDict[int, int] = OrderedDict()  # unit hash -> blocks, oldest first
        self.bytes_moved = 0.0
        self.drops = 0  # prefix units dropped for lack of space

    def put(self, block_hash: int, num_blocks: int) -> None:
        """Keep an evicted prefix unit (most recent); drop the oldest ones to make room."""
        if block_hash in self._lru:
            self._lru.move_to_end(block_hash)
            return
        if not self._make_room(num_blocks):
            self.drops += 1
            return
        self._lru[block_hash] = num_blocks
        self.used_blocks += num_blocks

    def has(self, block_hash: int) -> bool:
        return block_hash in self._lru

    def touch(self, block_hash: int) -> None:
        if block_hash in self._lru:
            self._lru.move_to_end(block_hash)

    def reserve(self, num_blocks: int) -> bool:
        """Swap space for a preempted request; False when even an empty prefix cache cannot fit it."""
        if not self._make_room(num_blocks):
            return False
        self.reserved_blocks += num_blocks
        return True

    def unreserve(self, num_blocks: int) -> None:
        self.reserved_blocks -= num_blocks
        assert self.reserved_blocks >= 0

    def transfer(self, now: float, num_blocks: int) -> float:
        """Move ``num_blocks`` over the link starting no earlier than ``now``; returns when it is done."""
        nbytes = num_blocks * self.block_bytes
        self.bytes_moved += nbytes
        start = max(now, self.link_free_s)
        self.link_free_s = start + nbytes / self.spec.bandwidth_bytes_per_s
        return self.link_free_s + self.spec.latency_s

    def _make_room(self, num_blocks: int) -> bool:
        if num_blocks > self.capacity_blocks - self.reserved_blocks:
            return False
        while self.used_blocks + self.reserved_blocks + num_blocks > self.capacity_blocks:
            _, blocks = self._lru.popitem(last=False)
            self.used_blocks -= blocks
        return True
