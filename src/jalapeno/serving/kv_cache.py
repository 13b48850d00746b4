"""KV-cache manager of one replica: paged allocation, prefix caching, the lower tier, accounting.

The scheduler talks to this class only (never to the block pool), in vLLM's two phases:
``match(state)`` finds cached prefix units without side effects, ``allocate(state, n, match)`` takes
them and the new blocks ``n`` more tokens need, or changes nothing and returns False.

**Prefix units.** A trace names prompt content by ``block_hashes``, one per ``block_tokens`` tokens
(512 for Mooncake). The pool pages KV in ``block_size`` tokens (16). The unit of caching is
``unit_tokens = lcm(block_tokens, block_size)`` tokens: it maps to exactly ``unit_tokens / block_size``
pool blocks and to ``unit_tokens / block_tokens`` trace hashes, its content id. Unit ``u`` is named
``hash((hash of unit u-1, content id))``, so equal names mean equal whole prefixes. Only full units of
the prompt are cached, and a hit never covers the last prompt token (it must be computed to sample).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import gcd

from jalapeno.serving.block_pool import BlockPool, PrefixUnit
from jalapeno.serving.request_state import RequestState
from jalapeno.serving.tier import LowerTier, TierSpec

Match = list[PrefixUnit | int]  # cached units in prompt order; an int is a hash found in the tier


def unit_hashes(
    block_hashes: tuple[int, ...], block_tokens: int, block_size: int, prompt: int
) -> tuple[tuple[int, ...], int]:
    """Chained hashes of the full prefix units of a prompt, and the unit size in tokens."""
    unit = block_tokens * block_size // gcd(block_tokens, block_size)
    per = unit // block_tokens
    count = min(prompt // unit, len(block_hashes) // per)
    out, parent = [], 0
    for u in range(count):
        content = block_hashes[u] if per == 1 else tuple(block_hashes[u * per : (u + 1) * per])
        parent = hash((parent, content))
        out.append(parent)
    return tuple(out), unit


class KVCacheManager:
    __slots__ = (
        "_last_s",
        "block_size",
        "hit_tokens",
        "peak_used",
        "pool",
        "prefix_cache",
        "query_tokens",
        "tier",
        "tier_hit_tokens",
        "used_integral",
    )

    def __init__(
        self,
        capacity_tokens: int,
        block_size: int,
        *,
        prefix_cache: bool = False,
        tier: TierSpec | None = None,
        kv_bytes_per_token: float = 0.0,
    ) -> None:
        self.block_size = block_size
        self.tier = LowerTier(tier, block_size * kv_bytes_per_token) if tier is not None else None
        on_evict = self.tier.put if (self.tier is not None and prefix_cache) else None
        self.pool = BlockPool(capacity_tokens // block_size, on_evict)
        self.prefix_cache = prefix_cache
        self.query_tokens = 0  # tokens looked up in the prefix cache (at each admission)
        self.hit_tokens = 0  # of which found in HBM
        self.tier_hit_tokens = 0  # of which found in the lower tier
        self.peak_used = 0
        self.used_integral = 0.0  # block-seconds
        self._last_s = 0.0

    # --- accounting -------------------------------------------------------------------------------
    @property
    def num_blocks(self) -> int:
        return self.pool.num_blocks

    @property
    def used_blocks(self) -> int:
        return self.pool.used_blocks

    @property
    def evictions(self) -> int:
        """Cached prefix units evicted so far (the pool's count)."""
        return self.pool.evictions

    @property
    def available_blocks(self) -> int:
        """Blocks an allocation may take now: the free ones and the evictable cached ones."""
        pool = self.pool
        return pool.free_blocks + pool.evictable_blocks

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def advance(self, now: float) -> None:
        """Integrate KV use up to ``now``; call before any change at time ``now``."""
        pool = self.pool
        self.used_integral += (pool.num_blocks - pool.free_blocks - pool.evictable_blocks) * (
            now - self._last_s
        )
        self._last_s = now

    def note_taken(self) -> None:
        """Check and record KV use after blocks were taken from the pool."""
        pool = self.pool
        used = pool.num_blocks - pool.free_blocks - pool.evictable_blocks
        assert pool.free_blocks >= 0 and used <= pool.num_blocks, "KV use exceeds capacity"
        self.peak_used = max(self.peak_used, used)

    # --- prefix caching -----------------------------------------------------------------------------
    def match(self, st: RequestState) -> Match | None:
        """Cached full units at the head of the request's context (read-only); None without caching."""
        if not self.prefix_cache:
            return None
        if st.unit_hashes is None:
            req = st.request
            st.unit_hashes, st.unit_tokens = unit_hashes(
                tuple(req.block_hashes or ()),
                int(getattr(req, "block_tokens", 512) or 512),
                self.block_size,
                st.prompt,
            )
        hashes = st.unit_hashes
        limit = min(len(hashes), (st.num_tokens - 1) // st.unit_tokens) if hashes else 0
        found: Match = []
        cached, tier = self.pool.cached, self.tier
        for u in range(limit):
            h = hashes[u]
            unit = cached.get(h)
            if unit is not None:
                found.append(unit)
            elif tier is not None and tier.has(h):
                found.append(h)
            else:
                break
        return found

    def commit(self, st: RequestState) -> None:
        """Register the prompt units that computation has just filled, so later requests can hit them."""
        hashes = st.unit_hashes
        if not hashes:
            return
        n, ut = st.units_seen, st.unit_tokens
        per = ut // self.block_size
        while n < len(hashes) and (n + 1) * ut <= st.computed:
            unit = self.pool.register(hashes[n], per)
            if unit is not None:
                st.units.append(unit)
                st.own_blocks -= per
            n += 1
        st.units_seen = n

    # --- allocation ---------------------------------------------------------------------------------
    def allocate(self, st: RequestState, num_new: int, match: Match | None = None) -> bool:
        """Blocks for ``num_new`` more tokens (after taking the ``match`` hits); False changes nothing."""
        if match:
            return self._allocate_with_hits(st, num_new, match)
        need = -(-(st.computed + num_new) // self.block_size) - st.held_blocks
        if need > 0:
            pool = self.pool
            if need > pool.free_blocks + pool.evictable_blocks:
                return False
            pool.take(need)
            st.own_blocks += need
            st.held_blocks += need
            self.note_taken()
        if match is not None:  # a lookup that found nothing
            self.query_tokens += st.num_tokens
        return True

    def _allocate_with_hits(self, st: RequestState, num_new: int, match: Match) -> bool:
        pool, per = self.pool, st.unit_tokens // self.block_size
        hit_tokens = len(match) * st.unit_tokens
        reused = [u for u in match if isinstance(u, PrefixUnit)]
        loads = len(match) - len(reused)
        fresh = loads * per + max(0, self.blocks_for(hit_tokens + num_new) - len(match) * per)
        pinned = sum(u.num_blocks for u in reused if u.ref_cnt == 0)  # evictable now, held after
        if fresh > pool.free_blocks + pool.evictable_blocks - pinned:
            return False
        for u in reused:
            pool.touch(u)
        if loads and self.tier is not None:  # most recent in the tier before evictions can push into it
            for item in match:
                if not isinstance(item, PrefixUnit):
                    self.tier.touch(item)
        pool.take(fresh)
        for item in match:
            unit = item if isinstance(item, PrefixUnit) else pool.register(item, per)
            assert unit is not None
            st.units.append(unit)
        st.own_blocks += fresh - loads * per
        st.held_blocks += len(match) * per + fresh - loads * per
        st.computed = hit_tokens
        st.units_seen = len(match)
        st.hit_tokens += len(reused) * st.unit_tokens
        st.loaded_tokens += loads * st.unit_tokens
        self.query_tokens += st.num_tokens
        self.hit_tokens += len(reused) * st.unit_tokens
        self.tier_hit_tokens += loads * st.unit_tokens
        self.note_taken()
        return True

    def load_time(self, now: float, st: RequestState, match: Match | None) -> float:
        """When the tier part of an allocated ``match`` is in HBM (``now`` when none came from the tier)."""
        loads = sum(1 for u in match if not isinstance(u, PrefixUnit)) if match else 0
        if not loads or self.tier is None:
            return now
        return self.tier.transfer(now, loads * (st.unit_tokens // self.block_size))

    def reserve_ahead(self, states: Sequence[RequestState], extra: Sequence[int]) -> None:
        """Take ``extra[i]`` more private blocks for ``states[i]`` (<= 0: none), e.g. for every step of a
        decode run at once; the caller has checked they fit ``available_blocks``."""
        total = 0
        for st, x in zip(states, extra, strict=True):
            if x > 0:
                st.own_blocks += x
                st.held_blocks += x
                total += x
        if total:
            self.pool.take(total)
            self.note_taken()

    def trim(self, st: RequestState) -> None:
        """Return private blocks beyond what ``computed`` tokens need (after a cut-short decode run)."""
        surplus = st.held_blocks - -(-st.computed // self.block_size)
        if surplus > 0:
            surplus = min(surplus, st.own_blocks)
            self.pool.give(surplus)
            st.own_blocks -= surplus
            st.held_blocks -= surplus

    def free(self, st: RequestState) -> None:
        """Release everything the request holds; its units go to the free queue tail first."""
        pool = self.pool
        for unit in reversed(st.units):
            pool.release(unit)
        pool.give(st.own_blocks)
        st.units = []
        st.own_blocks = 0
        st.held_blocks = 0

    # --- swapping -----------------------------------------------------------------------------------
    def swap_out(self, st: RequestState, now: float) -> float | None:
        """Copy the request's KV to the tier and free its blocks; returns when the copy is done."""
        if self.tier is None or st.held_blocks == 0 or not self.tier.reserve(st.held_blocks):
            return None
        st.swapped_blocks = st.held_blocks
        done = self.tier.transfer(now, st.held_blocks)
        self.free(st)
        return done

    def swap_in(self, st: RequestState, now: float) -> float | None:
        """Blocks for a swapped request and the time its KV is back; None when HBM has no room."""
        need = st.swapped_blocks
        pool = self.pool
        if need > pool.free_blocks + pool.evictable_blocks:
            return None
        pool.take(need)
        st.own_blocks = st.held_blocks = need
        assert self.tier is not None
        self.tier.unreserve(need)
        st.swapped_blocks = 0
        self.note_taken()
        return self.tier.transfer(now, need)
