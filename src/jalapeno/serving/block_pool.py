"""The paged KV blocks of one replica, with an O(1) LRU free queue of cached prefix units.

Blocks are fungible memory, so the pool counts them instead of naming each one: a request holds
``own_blocks`` private blocks plus references to shared **prefix units**. A unit is a run of full
blocks whose content is named by a chained hash (see ``kv_cache.unit_hashes``); it is the unit of
sharing and of eviction. Counting keeps admission O(1) in the prompt length, which matters when a
trace has millions of requests of thousands of tokens.

Eviction order (the free queue, oldest first):
1. Free blocks that hold no cached content are always used first: taking them loses nothing.
2. Then cached units whose reference count fell to zero are evicted least recently released first.
   A request releases its units tail first (``KVCacheManager.free``), so of one request's prefix the
   last unit is evicted first and the shared head (a system prompt) survives longest.
A unit that is hit while in the free queue leaves the queue (its reference count goes back to 1).
The queue is an ``OrderedDict`` keyed by unit hash: append, remove and pop-oldest are O(1).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable


class PrefixUnit:
    __slots__ = ("block_hash", "num_blocks", "ref_cnt")

    def __init__(self, block_hash: int, num_blocks: int) -> None:
        self.block_hash = block_hash
        self.num_blocks = num_blocks
        self.ref_cnt = 1

    def __repr__(self) -> str:
        return f"PrefixUnit({self.block_hash}, blocks={self.num_blocks}, ref={self.ref_cnt})"


class BlockPool:
    """``num_blocks`` = free + evictable (cached, unreferenced) + used (held by requests)."""

    __slots__ = ("_lru", "cached", "evictable_blocks", "evictions", "free_blocks", "num_blocks", "on_evict")

    def __init__(self, num_blocks: int, on_evict: Callable[[int, int], None] | None = None) -> None:
        if num_blocks < 1:
            raise ValueError(f"a block pool needs at least one block, got {num_blocks}")
        self.num_blocks = num_blocks
        self.free_blocks = num_blocks
        self.evictable_blocks = 0
        self.cached: dict[int, PrefixUnit] = {}  # hash -> unit, referenced or in the free queue
        self._lru: OrderedDict[int, PrefixUnit] = OrderedDict()  # free queue, oldest first
        self.on_evict = on_evict  # called with (hash, num_blocks) for each evicted unit
        self.evictions = 0

    @property
    def used_blocks(self) -> int:
        return self.num_blocks - self.free_blocks - self.evictable_blocks

    @property
    def available_blocks(self) -> int:
        return self.free_blocks + self.evictable_blocks

    def free_queue(self) -> list[int]:
        """Hashes of the evictable units, next to be evicted first (for tests and debugging)."""
        return list(self._lru)

    def take(self, n: int) -> None:
        """Hand out ``n`` blocks, evicting cached units as needed; the caller checked availability."""
        while self.free_blocks < n:
            self._evict_oldest()
        self.free_blocks -= n

    def give(self, n: int) -> None:
        self.free_blocks += n
        assert self.free_blocks + self.evictable_blocks <= self.num_blocks, "returned more blocks than lent"

    def lookup(self, block_hash: int) -> PrefixUnit | None:
        return self.cached.get(block_hash)

    def touch(self, unit: PrefixUnit) -> None:
        """Take a reference on a cached unit (a prefix hit)."""
        if unit.ref_cnt == 0:
            del self._lru[unit.block_hash]
            self.evictable_blocks -= unit.num_blocks
        unit.ref_cnt += 1

    def release(self, unit: PrefixUnit) -> None:
        unit.ref_cnt -= 1
        if unit.ref_cnt == 0:
            self._lru[unit.block_hash] = unit
            self.evictable_blocks += unit.num_blocks

    def register(self, block_hash: int, num_blocks: int) -> PrefixUnit | None:
        """Name ``num_blocks`` blocks the caller already holds as a cached unit (reference 1).

        Returns None when a unit with that hash exists (the same content computed twice at once):
        the caller keeps its blocks private, as vLLM does.
        """
        if block_hash in self.cached:
            return None
        unit = PrefixUnit(block_hash, num_blocks)
        self.cached[block_hash] = unit
        return unit

    def _evict_oldest(self) -> None:
        if not self._lru:
            raise AssertionError("KV pool over-committed: no block left to evict")
        block_hash, unit = self._lru.popitem(last=False)
        del self.cached[block_hash]
        self.evictable_blocks -= unit.num_blocks
        self.free_blocks += unit.num_blocks
        self.evictions += 1
        if self.on_evict is not None:
            self.on_evict(block_hash, unit.num_blocks)
