"""Serving building blocks: event core, block pool (exact eviction order), KV cache, speculation math."""

from __future__ import annotations

import pytest
from test_serving_helpers import Req

from jalapeno.serving.block_pool import BlockPool
from jalapeno.serving.events import EventLoop
from jalapeno.serving.kv_cache import KVCacheManager, unit_hashes
from jalapeno.serving.request_state import RequestState
from jalapeno.serving.speculative import Speculative, emitted, steps_to_emit
from jalapeno.serving.tier import TierSpec


# --- events -------------------------------------------------------------------------------------------
def test_events_run_in_time_priority_seq_order():
    loop, seen = EventLoop(), []

    def note(now, tag):
        seen.append((now, tag))

    loop.schedule(2.0, 0, note, "late")
    loop.schedule(1.0, 2, note, "step")
    loop.schedule(1.0, 0, note, "arrival-1")
    loop.schedule(1.0, 0, note, "arrival-2")
    loop.run()
    assert seen == [(1.0, "arrival-1"), (1.0, "arrival-2"), (1.0, "step"), (2.0, "late")]
    assert loop.processed == 4 and loop.now == 2.0


def test_handlers_return_next_events_and_run_until_stops():
    loop, ticks = EventLoop(), []

    def tick(now, n):
        ticks.append(now)
        return [(now + 1.0, 0, tick, n + 1)] if n < 10 else None

    loop.schedule(0.0, 0, tick, 0)
    loop.run(until=3.5)
    assert ticks == [0.0, 1.0, 2.0, 3.0] and loop.now == 3.5
    assert loop.peek() == 4.0
    assert loop.step() and ticks[-1] == 4.0
    loop.run()
    assert ticks[-1] == 10.0 and len(loop) == 0 and not loop.step()


def test_events_never_go_back_in_time():
    loop = EventLoop()
    loop.schedule(1.0, 0, lambda now, p: [(0.5, 0, lambda n, q: None, None)])
    with pytest.raises(ValueError, match=r"^event at 0\.5 is before now=1\.0$"):
        loop.run()


# --- block pool ---------------------------------------------------------------------------------------
def test_pool_uses_empty_blocks_before_evicting_and_evicts_lru_units():
    evicted = []
    pool = BlockPool(10, on_evict=lambda h, n: evicted.append((h, n)))
    pool.take(6)
    a, b, c = (pool.register(h, 2) for h in (101, 102, 103))
    assert pool.register(101, 2) is None  # same content twice: the second copy stays private
    for unit in (c, b, a):  # a request releases tail first
        pool.release(unit)
    assert pool.free_queue() == [103, 102, 101] and pool.evictable_blocks == 6 and pool.used_blocks == 0
    pool.touch(b)  # a hit takes 102 out of the free queue
    assert pool.free_queue() == [103, 101] and pool.used_blocks == 2
    pool.take(4)  # the 4 never-cached blocks go first: nothing evicted
    assert evicted == [] and pool.free_blocks == 0
    pool.take(3)  # then 103 (2 blocks) and 101 (2 blocks), oldest first
    assert evicted == [(103, 2), (101, 2)] and pool.free_blocks == 1 and pool.cached.keys() == {102}
    assert pool.evictions == 2 and pool.used_blocks == 9


def test_pool_refuses_to_overcommit():
    pool = BlockPool(2)
    pool.take(2)
    with pytest.raises(AssertionError):
        pool.take(1)


# --- KV cache manager ---------------------------------------------------------------------------------
def test_unit_hashes_map_trace_blocks_to_pool_blocks():
    # 512-token trace blocks on 16-token pages: a unit is one trace block = 32 pages; partial tail not cached
    hashes, unit = unit_hashes((7, 8, 9), 512, 16, prompt=1300)
    assert unit == 512 and len(hashes) == 2
    assert hashes[0] == hash((0, 7)) and hashes[1] == hash((hashes[0], 8))
    # 16-token trace blocks on 32-token pages: a unit is one page, named by two trace hashes
    hashes, unit = unit_hashes((1, 2, 3, 4, 5), 16, 32, prompt=80)
    assert unit == 32 and hashes == (hash((0, (1, 2))), hash((hash((0, (1, 2))), (3, 4))))
    # a different first block changes every later name (chained)
    assert unit_hashes((9, 8), 512, 16, 1024)[0][1] != unit_hashes((7, 8), 512, 16, 1024)[0][1]


def _state(rid, prompt, hashes=(), output=4):
    return RequestState(Req(rid, 0.0, prompt, output, hashes), 0.0)


def test_prefix_hits_are_shared_capped_and_counted():
    kv = KVCacheManager(16 * 200, 16, prefix_cache=True)
    a = _state(0, 1100, (1, 2, 3))
    assert kv.match(a) == [] and kv.allocate(a, 1100, [])
    assert a.held_blocks == 69 and kv.used_blocks == 69  # ceil(1100 / 16)
    a.computed = 1100
    kv.commit(a)  # two full 512-token units are now named
    assert [u.block_hash for u in a.units] == list(a.unit_hashes) and a.own_blocks == 69 - 64
    b = _state(1, 1100, (1, 2, 3))
    m = kv.match(b)
    assert len(m) == 2
    assert kv.allocate(b, 1100 - 1024, m)
    assert b.computed == 1024 and b.hit_tokens == 1024 and b.held_blocks == 69
    assert kv.used_blocks == 69 + 5 and kv.hit_tokens == 1024 and kv.query_tokens == 2200
    # an exact repeat of a 1024-token prompt may hit only one unit: the last token must be computed
    c = _state(2, 1024, (1, 2))
    assert len(kv.match(c)) == 1
    kv.free(a)
    kv.free(b)
    assert kv.used_blocks == 0 and kv.pool.evictable_blocks == 64


def test_allocation_failure_changes_nothing():
    kv = KVCacheManager(16 * 10, 16)
    a = _state(0, 100)
    assert kv.allocate(a, 100)  # 7 blocks
    b = _state(1, 100)
    assert not kv.allocate(b, 100)
    assert b.held_blocks == 0 and kv.used_blocks == 7
    a.computed = 100
    kv.allocate(a, 20)  # 120 tokens: 8 blocks
    assert a.held_blocks == 8
    a.computed = 101
    kv.trim(a)  # back to what 101 tokens need
    assert a.held_blocks == 7 and kv.used_blocks == 7


def test_evicted_units_go_to_the_tier_and_hits_there_cost_a_transfer():
    tier = TierSpec(capacity_bytes=1e12, bandwidth_bytes_per_s=1e9, latency_s=1e-3)
    kv = KVCacheManager(16 * 40, 16, prefix_cache=True, tier=tier, kv_bytes_per_token=1000.0)
    a = _state(0, 600, (1, 2))
    kv.allocate(a, 600, kv.match(a))
    a.computed = 600
    kv.commit(a)
    kv.free(a)  # unit 0 (32 blocks) is cached and evictable
    b = _state(1, 600, (5, 6))
    assert kv.allocate(b, 600, kv.match(b))  # needs 38 of 40 blocks: evicts unit 0 to the tier
    assert kv.pool.evictions == 1 and kv.tier.has(a.unit_hashes[0])
    kv.free(b)
    c = _state(2, 600, (1, 2))
    m = kv.match(c)
    assert m == [a.unit_hashes[0]]  # found below HBM
    assert kv.allocate(c, 0, m) and c.computed == 512 and c.loaded_tokens == 512
    ready = kv.load_time(10.0, c, m)
    assert ready == pytest.approx(10.0 + 512 * 1000.0 / 1e9 + 1e-3)
    assert kv.tier_hit_tokens == 512


def test_swap_out_and_in_use_tier_space_and_bandwidth():
    tier = TierSpec(capacity_bytes=16 * 1000.0 * 10, bandwidth_bytes_per_s=16e3)
    kv = KVCacheManager(16 * 10, 16, tier=tier, kv_bytes_per_token=1000.0)
    a = _state(0, 64)
    kv.allocate(a, 64)
    done = kv.swap_out(a, 1.0)
    assert done == pytest.approx(1.0 + 4)  # 4 blocks of 16 KB at 16 KB/s
    assert kv.used_blocks == 0 and kv.tier.reserved_blocks == 4 and a.swapped_blocks == 4
    back = kv.swap_in(a, 5.0)
    assert back == pytest.approx(9.0) and a.held_blocks == 4 and kv.tier.reserved_blocks == 0
    big = _state(1, 16 * 11)
    big.held_blocks = 11
    assert kv.swap_out(big, 0.0) is None  # does not fit the tier


# --- speculative decoding -----------------------------------------------------------------------------
def test_expected_tokens_per_verify_step():
    assert Speculative(4, 0.0).tokens_per_step == 1.0
    assert Speculative(4, 1.0).tokens_per_step == 5.0
    assert Speculative(3, 0.5).tokens_per_step == pytest.approx((1 - 0.5**4) / 0.5)


@pytest.mark.parametrize(
    ("credit", "rate", "remaining"), [(0.0, 1.875, 10), (0.7, 2.5, 1), (0.3, 1.0, 7), (0.99, 3.3, 50)]
)
def test_steps_to_emit_is_the_first_step_with_all_tokens_out(credit, rate, remaining):
    s = steps_to_emit(credit, rate, remaining)
    assert emitted(credit, s, rate, remaining) == remaining
    assert s == 1 or emitted(credit, s - 1, rate, remaining) < remaining
