"""KV cache manager and block pool, by hand: admission under memory pressure, prefix hits from HBM and
from the tier, commits during chunked prefill, the k x unit + 1 boundary, swapping and accounting.

Unless a test says otherwise: pages of 16 tokens, trace blocks of 32 tokens (so a prefix unit is
32 tokens = 2 pool blocks, named by one trace hash).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from test_serving_helpers import Req as BaseReq

from jalapeno.serving.block_pool import BlockPool, PrefixUnit
from jalapeno.serving.kv_cache import KVCacheManager, unit_hashes
from jalapeno.serving.request_state import RequestState
from jalapeno.serving.tier import TierSpec


@dataclass(frozen=True)
class Req(BaseReq):
    block_tokens: int | None = 32


@dataclass(frozen=True)
class BareReq:  # a trace without a block size of its own
    request_id: int
    arrival_s: float
    prompt_tokens: int
    output_tokens: int
    block_hashes: tuple[int, ...] = ()


def state(rid: int, prompt: int, hashes: tuple[int, ...] = (), block_tokens: int | None = 32) -> RequestState:
    return RequestState(Req(rid, 0.0, prompt, 4, hashes, block_tokens), 0.0)


def kv_of(blocks: int, **kw) -> KVCacheManager:
    return KVCacheManager(16 * blocks, 16, prefix_cache=True, **kw)


def prefill(kv: KVCacheManager, st: RequestState, n: int | None = None) -> None:
    """Admit without hits (or with whatever match finds), compute the whole prompt and commit it."""
    m = kv.match(st)
    assert kv.allocate(st, (n if n is not None else st.prompt) - (len(m or []) * st.unit_tokens), m)
    st.computed = st.prompt
    kv.commit(st)


def chain(*content: int) -> list[int]:
    """Chained unit names, written out: unit u = hash((name of unit u-1, content u))."""
    out, parent = [], 0
    for c in content:
        parent = hash((parent, c))
        out.append(parent)
    return out


# --- the pool on its own ---------------------------------------------------------------------------------
def test_pool_of_one_block_works_and_of_zero_is_rejected():
    pool = BlockPool(1)
    pool.take(1)
    assert pool.used_blocks == 1 and pool.available_blocks == 0
    with pytest.raises(ValueError, match=r"^a block pool needs at least one block, got 0$"):
        BlockPool(0)


def test_touching_a_referenced_unit_adds_a_reference():
    pool = BlockPool(4)
    pool.take(2)
    u = pool.register(7, 2)
    assert pool.lookup(7) is u and pool.lookup(8) is None
    pool.touch(u)  # a second request shares it
    assert u.ref_cnt == 2
    pool.release(u)
    assert u.ref_cnt == 1 and pool.free_queue() == [] and pool.evictable_blocks == 0
    pool.release(u)
    assert pool.free_queue() == [7] and pool.evictable_blocks == 2


def test_pool_refuses_returns_beyond_what_it_lent_with_cached_units_counted():
    pool = BlockPool(4)
    pool.take(4)
    pool.release(pool.register(7, 2))  # 2 blocks evictable, 0 free, 2 still lent
    pool.give(2)
    with pytest.raises(AssertionError, match=r"^returned more blocks than lent$"):
        pool.give(1)  # 3 free + 2 evictable > 4


def test_overcommit_message():
    pool = BlockPool(2)
    pool.take(2)
    with pytest.raises(AssertionError, match=r"^KV pool over-committed: no block left to evict$"):
        pool.take(1)


# --- unit names and the trace's block size ---------------------------------------------------------------
def test_fewer_trace_hashes_than_the_prompt_needs_cap_the_units():
    # 3 hashes of 16 tokens on 32-token pages: 1.5 units' worth -> 1 whole unit, even for a long prompt
    hashes, unit = unit_hashes((1, 2, 3), 16, 32, prompt=1000)
    assert unit == 32 and hashes == (hash((0, (1, 2))),)


def test_a_trace_names_its_own_block_size_and_512_is_the_default():
    kv = kv_of(100)
    st = state(0, 100, (1, 2, 3, 4))
    assert kv.match(st) == []
    assert st.unit_tokens == 32 and list(st.unit_hashes) == chain(1, 2, 3)  # 100 // 32 = 3 full units
    for bt in (None, 0):  # a missing size means the Mooncake default
        st = state(1, 1100, (1, 2, 3), block_tokens=bt)
        kv.match(st)
        assert st.unit_tokens == 512 and list(st.unit_hashes) == chain(1, 2)
    st = RequestState(BareReq(2, 0.0, 1100, 4, (1, 2, 3)), 0.0)
    kv.match(st)
    assert st.unit_tokens == 512 and len(st.unit_hashes) == 2


def test_without_prefix_caching_nothing_is_looked_up():
    kv = KVCacheManager(100, 16)
    assert kv.prefix_cache is False and kv.tier is None and kv.num_blocks == 6  # 100 // 16
    assert kv.match(state(0, 64, (1, 2))) is None


def test_a_request_without_hashes_matches_nothing():
    kv = kv_of(10)
    st = state(0, 100, ())
    assert kv.match(st) == [] and st.unit_hashes == ()


# --- the prompt = k x unit + 1 boundary -------------------------------------------------------------------
def test_a_prompt_of_k_units_plus_one_hits_all_k_and_of_k_units_hits_k_minus_1():
    kv = kv_of(100)
    prefill(kv, state(0, 65, (1, 2, 3)))  # 2 full units of 32 (+1 token) are cached
    assert kv.pool.cached.keys() == set(chain(1, 2))
    b = state(1, 65, (1, 2, 3))
    assert len(kv.match(b)) == 2  # 64 cached tokens, the 65th is computed
    c = state(2, 64, (1, 2))
    assert len(kv.match(c)) == 1  # (64 - 1) // 32 = 1: the last token must be computed to sample
    d = state(3, 33, (1, 2))
    assert len(kv.match(d)) == 1 and len(kv.match(state(4, 32, (1,)))) == 0


# --- commits: a unit is shareable only once computed ------------------------------------------------------
def test_chunked_prefill_registers_each_unit_when_its_last_token_is_computed():
    kv = kv_of(100)
    a = state(0, 100, (1, 2, 3, 4))  # 3 full units: tokens 0-31, 32-63, 64-95
    names = chain(1, 2, 3)
    assert kv.allocate(a, 40, kv.match(a))  # chunk 1: 40 tokens -> 3 blocks
    kv.commit(a)  # nothing computed yet: nothing registered
    assert kv.pool.cached == {} and a.units_seen == 0
    a.computed = 40
    kv.commit(a)
    assert list(kv.pool.cached) == names[:1] and a.units_seen == 1 and a.own_blocks == 3 - 2
    b = state(1, 100, (1, 2, 3, 4))
    assert [u.block_hash for u in kv.match(b)] == names[:1]  # mid-prefill: only the finished unit
    assert kv.allocate(a, 24)  # chunk 2 ends exactly at token 64
    a.computed = 64
    kv.commit(a)
    assert list(kv.pool.cached) == names[:2] and a.units_seen == 2
    assert (a.held_blocks, a.own_blocks) == (4, 0)
    assert kv.allocate(a, 36)
    a.computed = 100
    kv.commit(a)
    assert list(kv.pool.cached) == names and a.units_seen == 3
    assert (a.held_blocks, a.own_blocks) == (7, 1)  # ceil(100 / 16) = 7 = 3 units x 2 + 1
    assert [u.block_hash for u in a.units] == names


def test_commit_stops_at_the_last_trace_hash():
    kv = kv_of(100)
    a = state(0, 100, (1, 2))  # the trace names only 64 tokens
    prefill(kv, a)
    assert list(kv.pool.cached) == chain(1, 2) and a.units_seen == 2


def test_the_same_content_computed_twice_at_once_stays_private():
    kv = kv_of(100)
    a, b = state(0, 40, (1,)), state(1, 40, (1,))
    for st in (a, b):
        assert kv.allocate(st, 40, kv.match(st))  # both miss: neither is computed yet
    for st in (a, b):
        st.computed = 40
        kv.commit(st)
    assert len(a.units) == 1 and b.units == [] and b.own_blocks == 3 and b.units_seen == 1


# --- admission with hits under memory pressure ------------------------------------------------------------
def cached_three_units(blocks: int) -> tuple[KVCacheManager, list[int]]:
    """A pool of ``blocks`` where a finished 97-token request left 3 units (6 blocks) evictable."""
    kv = kv_of(blocks)
    a = state(0, 97, (1, 2, 3))
    prefill(kv, a)
    kv.free(a)
    assert kv.pool.evictable_blocks == 6 and kv.pool.free_blocks == blocks - 6
    return kv, chain(1, 2, 3)


def test_hits_that_are_evictable_now_cannot_also_be_evicted_for_the_new_blocks():
    kv, names = cached_three_units(10)
    filler = state(9, 64)
    assert kv.allocate(filler, 64)  # 4 blocks: 0 free left, the 6 cached blocks are all there is
    b = state(1, 97, (1, 2, 3))
    m = kv.match(b)
    assert [u.block_hash for u in m] == names
    # B needs ceil(97 / 16) = 7 blocks: 6 from the hits + 1 fresh. Free 0 + evictable 6 - pinned 6 = 0 < 1.
    assert not kv.allocate(b, 1, m)
    assert (b.held_blocks, b.computed, b.units) == (0, 0, [])  # nothing changed
    assert kv.pool.evictable_blocks == 6 and all(u.ref_cnt == 0 for u in m) and kv.hit_tokens == 0
    assert kv.query_tokens == 97  # only the first request's lookup was counted


def test_hits_admit_when_exactly_the_fresh_blocks_are_left():
    kv, _names = cached_three_units(10)
    assert kv.allocate(state(9, 48), 48)  # 3 blocks: 1 free left
    b = state(1, 97, (1, 2, 3))
    m = kv.match(b)
    assert kv.allocate(b, 1, m)  # 1 fresh block needed, 1 left
    assert (b.computed, b.held_blocks, b.own_blocks, b.hit_tokens) == (96, 7, 1, 96)
    assert kv.pool.free_blocks == 0 and kv.pool.evictable_blocks == 0 and kv.used_blocks == 10
    assert kv.peak_used == 10


def test_hits_on_units_another_request_holds_cost_no_capacity():
    kv = kv_of(10)
    a = state(0, 97, (1, 2, 3))
    prefill(kv, a)  # A still running: its 3 units (ref 1) + 1 own block; 3 free
    b = state(1, 97, (1, 2, 3))
    m = kv.match(b)
    assert all(u.ref_cnt == 1 for u in m)
    assert kv.allocate(b, 1, m)  # 1 fresh <= 3 free (shared units pin nothing new)
    assert [u.ref_cnt for u in m] == [2, 2, 2] and kv.used_blocks == 8 and kv.pool.free_blocks == 2
    kv.free(a)
    assert kv.used_blocks == 7 and kv.pool.evictable_blocks == 0  # B still holds the units


def test_hit_counters_accumulate_over_requests_and_readmissions():
    kv = kv_of(100)
    prefill(kv, state(0, 97, (1, 2, 3)))
    b = state(1, 97, (1, 2, 3))
    assert kv.allocate(b, 1, kv.match(b))
    c = state(2, 70, (1, 2, 3))
    assert kv.allocate(c, 70 - 64, kv.match(c))  # 2 units: (70 - 1) // 32 = 2
    assert kv.hit_tokens == 96 + 64 and kv.query_tokens == 97 * 2 + 70
    # B is preempted (recompute) and admitted again: its own counters add up too
    kv.free(b)
    assert (b.held_blocks, b.own_blocks, b.units) == (0, 0, [])
    b.computed, b.units_seen = 0, 0
    assert kv.allocate(b, 1, kv.match(b))
    assert b.hit_tokens == 2 * 96 and kv.hit_tokens == 2 * 96 + 64 and len(b.units) == 3
    b.computed = 97
    kv.commit(b)  # all 3 units already registered at admission: nothing more
    assert b.units_seen == 3 and b.own_blocks == 1


# --- plain allocation ---------------------------------------------------------------------------------------
def test_allocation_fills_the_pool_exactly_and_grows_private_blocks():
    kv = KVCacheManager(16 * 10, 16)
    a = state(0, 100)
    assert kv.allocate(a, 100) and (a.own_blocks, a.held_blocks) == (7, 7)
    a.computed = 100
    assert kv.allocate(a, 20) and (a.own_blocks, a.held_blocks) == (8, 8)  # 120 tokens: 8 blocks
    b = state(1, 32)
    assert kv.allocate(b, 32)  # exactly the 2 blocks left
    assert kv.pool.free_blocks == 0 and kv.used_blocks == 10 and kv.peak_used == 10
    a.computed = 101
    kv.trim(a)  # back to ceil(101 / 16) = 7 blocks, all private
    assert (a.own_blocks, a.held_blocks, kv.used_blocks) == (7, 7, 9)
    kv.trim(a)  # nothing more to give back
    assert (a.own_blocks, a.held_blocks) == (7, 7)


def test_misses_are_counted_as_queries():
    kv = kv_of(100)
    for i in range(3):
        st = state(i, 50, (10 + i,))
        assert kv.allocate(st, 50, kv.match(st))
    assert kv.query_tokens == 150 and kv.hit_tokens == 0


def test_peak_and_integral_of_kv_use_exclude_cached_blocks():
    kv = kv_of(10)
    assert (kv.peak_used, kv.used_integral) == (0, 0.0)
    a = state(0, 97, (1, 2, 3))
    prefill(kv, a)  # 7 blocks from t = 0
    kv.advance(2.0)
    assert kv.used_integral == 14.0  # 7 blocks x 2 s
    kv.free(a)  # 6 blocks stay cached (evictable): not in use
    kv.advance(5.0)
    assert kv.used_integral == 14.0 and kv.peak_used == 7
    b = state(1, 40, (9,))
    assert kv.allocate(b, 40, kv.match(b))  # 3 blocks; 4 free before, so no eviction
    kv.advance(6.0)
    assert kv.used_integral == 17.0 and kv.peak_used == 7  # 7 at peak, not 3 + 6 cached


def test_kv_use_guard_fires_on_an_overdrawn_pool():
    kv = kv_of(10)
    kv.pool.free_blocks, kv.pool.evictable_blocks = -1, 2  # corrupt: used = 10 + 1 - 2 = 9
    with pytest.raises(AssertionError, match=r"^KV use exceeds capacity$"):
        kv.note_taken()


# --- the lower tier ----------------------------------------------------------------------------------------
def test_a_tier_hit_is_touched_before_evictions_push_into_the_tier():
    tier = TierSpec(capacity_bytes=64.0, bandwidth_bytes_per_s=16.0, latency_s=0.5)  # 4 blocks of 16 B
    kv = kv_of(8, tier=tier, kv_bytes_per_token=1.0)
    h = chain(1)[0]
    kv.tier.put(h, 2)  # oldest in the tier
    kv.tier.put(12345, 2)
    y = state(0, 33, (9,))
    prefill(kv, y)  # 3 blocks, 1 unit
    kv.free(y)  # y's unit evictable (2 blocks), 6 free
    b = state(1, 100, (1, 2, 3))
    m = kv.match(b)
    assert m == [h]  # unit 0 below HBM, unit 1 nowhere
    # fresh = 1 load x 2 + (ceil(100 / 16) = 7 - 2) = 7 > 6 free: y's unit is evicted into the full tier,
    # which drops its oldest entry: 12345, since the hit h was made most recent first
    assert kv.allocate(b, 100 - 32, m)
    assert kv.tier.has(h) and kv.tier.has(chain(9)[0]) and not kv.tier.has(12345)
    assert (b.computed, b.loaded_tokens, b.hit_tokens, b.held_blocks, b.own_blocks) == (32, 32, 0, 7, 5)
    assert kv.pool.cached[h].num_blocks == 2 and kv.pool.cached[h].block_hash == h
    assert [u.block_hash for u in b.units] == [h] and all(isinstance(u, PrefixUnit) for u in b.units)
    assert kv.tier_hit_tokens == 32 and kv.hit_tokens == 0 and kv.pool.evictions == 1
    # the load: 2 blocks x 16 B at 16 B/s = 2 s, plus 0.5 s latency
    assert kv.load_time(10.0, b, m) == 12.5
    assert kv.load_time(10.0, b, None) == 10.0 and kv.load_time(10.0, b, []) == 10.0
    b.computed = 100
    kv.commit(b)
    assert b.units_seen == 3 and [u.block_hash for u in b.units] == chain(1, 2, 3)
    kv.free(b)
    assert kv.used_blocks == 0


def test_tier_hits_accumulate_and_a_whole_tier_hit_needs_no_fresh_block():
    tier = TierSpec(capacity_bytes=1e9, bandwidth_bytes_per_s=1e9)
    kv = kv_of(6, tier=tier, kv_bytes_per_token=1.0)
    a = state(0, 65, (1, 2, 3))
    prefill(kv, a)  # 5 blocks: units (1), (1, 2) + 1 own
    kv.free(a)
    filler = state(9, 96)
    assert kv.allocate(filler, 96)  # 6 blocks: both units evicted to the tier
    assert kv.pool.evictions == 2 and kv.pool.cached == {}
    kv.free(filler)
    st = state(1, 65, (1, 2, 3))
    for times in (1, 2):  # the second time, the same request is admitted again after a preemption
        st.computed, st.units_seen = 0, 0
        m = kv.match(st)
        assert len(m) == 2 and all(isinstance(x, int) for x in m)
        assert kv.allocate(st, 0, m)  # a tier hit loads first: 0 tokens this step, no fresh block
        assert (st.held_blocks, st.own_blocks, st.loaded_tokens, st.computed) == (4, 0, 64 * times, 64)
        kv.free(st)
        assert kv.allocate(filler, 96)  # push the units back down to the tier
        kv.free(filler)
    assert kv.tier_hit_tokens == 2 * 64 and kv.hit_tokens == 0 and st.hit_tokens == 0
    assert kv.query_tokens == 65 * 3


def test_a_tier_without_kv_bytes_holds_nothing():
    kv = KVCacheManager(160, 16, tier=TierSpec(capacity_bytes=1e9, bandwidth_bytes_per_s=1e9))
    assert kv.tier is not None and kv.tier.block_bytes == 0.0 and kv.tier.capacity_blocks == 0


# --- swapping ---------------------------------------------------------------------------------------------
def test_swap_needs_a_tier_and_something_to_swap():
    kv = KVCacheManager(160, 16)
    a = state(0, 64)
    kv.allocate(a, 64)
    assert kv.swap_out(a, 0.0) is None and a.held_blocks == 4  # no tier
    tier = TierSpec(capacity_bytes=1e6, bandwidth_bytes_per_s=1e3, latency_s=1.0)
    kv = KVCacheManager(160, 16, tier=tier, kv_bytes_per_token=1.0)
    assert kv.swap_out(state(1, 64), 0.0) is None  # holds nothing


def test_swap_in_uses_evictable_blocks_and_fills_the_pool_exactly():
    tier = TierSpec(capacity_bytes=1e6, bandwidth_bytes_per_s=16.0)
    kv = KVCacheManager(16 * 10, 16, prefix_cache=True, tier=tier, kv_bytes_per_token=1.0)
    a = state(0, 64)
    kv.allocate(a, 64)  # 4 blocks
    assert kv.swap_out(a, 0.0) == 4.0  # 4 x 16 B at 16 B/s
    c = state(1, 97, (1, 2, 3))
    prefill(kv, c)
    kv.free(c)  # 6 blocks cached (evictable), 4 free
    filler = state(2, 64)
    kv.allocate(filler, 64)  # 0 free, 6 evictable (4 of them... no: takes the 4 free ones)
    assert kv.pool.free_blocks == 0 and kv.pool.evictable_blocks == 6
    kv.free(filler)
    kv.allocate(state(3, 96), 96)  # 6 blocks: 4 free + 2 evicted; 4 evictable left, 0 free
    assert kv.pool.free_blocks == 0 and kv.pool.evictable_blocks == 4
    assert kv.swap_in(a, 10.0) == 14.0  # exactly the 4 evictable blocks; starts at 10 on an idle link
    assert (a.held_blocks, a.own_blocks, a.swapped_blocks, kv.used_blocks) == (4, 4, 0, 10)


def test_reserve_ahead_takes_blocks_for_a_decode_run_through_the_manager():
    """A replica's decode run takes its blocks up front through the manager (never the pool itself)."""
    kv = kv_of(10)
    a, b = state(0, 40), state(1, 20)
    assert kv.allocate(a, 40) and kv.allocate(b, 20)  # 3 + 2 blocks
    assert (kv.used_blocks, kv.available_blocks) == (5, 5)
    kv.reserve_ahead([a, b], [2, -1])  # a needs 2 more blocks for the run, b has room
    assert (a.own_blocks, a.held_blocks, b.own_blocks, b.held_blocks) == (5, 5, 2, 2)
    assert (kv.used_blocks, kv.available_blocks, kv.peak_used) == (7, 3, 7)
    kv.reserve_ahead([a, b], [0, 0])  # nothing to take: nothing changes
    assert kv.used_blocks == 7 and kv.evictions == 0


def test_reserve_ahead_sums_the_blocks_of_every_request_one_block_counts():
    """Two requests each needing blocks: the pool gives up the sum (3 + 1), and a single extra block is
    taken."""
    kv = kv_of(10)
    a, b = state(0, 40), state(1, 20)
    assert kv.allocate(a, 40) and kv.allocate(b, 20)  # 3 + 2 blocks of 16 tokens
    kv.reserve_ahead([a, b], [3, 1])
    assert (a.own_blocks, a.held_blocks, b.own_blocks, b.held_blocks) == (6, 6, 3, 3)
    assert (kv.used_blocks, kv.available_blocks, kv.peak_used) == (9, 1, 9)
