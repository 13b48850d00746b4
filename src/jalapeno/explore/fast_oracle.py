"""A faster step oracle for search: the cost model at grid points, interpolated in between.

``CostOracle`` prices every distinct step shape exactly; on a chip timed by the mapper a new shape
costs a GEMM tiling search per matrix op and a FlashAttention tiling per attention op, so an
exact 10-minute replay spends seconds in the mapper. ``FastOracle`` keeps the cost model and changes
only which shapes it asks about:

* token-proportional work (projections, MLPs, norms, LM head) is exact up to ``exact_tokens`` tokens
  (decode batches) and linearly interpolated between grid points ``points_per_octave`` to an octave
  above (prefill chunks), with the sequence count scaled along;
* attention is priced at the nearest grid point of each aggregate (decode: sequences and mean
  context; prefill: sequences, chunk tokens, KV read, pairs) and scaled by the ratio of the pairs it
  computes, decode and prefill separately;
* the power cap (``Estimator.finish``) applies to the sum, as in ``CostOracle``.

Datasheet chips, MLA models and expert- or pipeline-parallel plans fall through to the exact
``CostOracle.step``. The error against the exact oracle is reported in docs/explore.md and held within 2% by
``tests/test_explore_search.py::test_fast_oracle_agrees_with_the_exact_one``.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from jalapeno.cost.oracle import CostOracle
from jalapeno.graph.builder import Graph
from jalapeno.graph.ops import Op
from jalapeno.memo import remember
from jalapeno.serving.oracle import StepCost, StepShape


def geometric_grid(start: int, stop: int, per_octave: int) -> list[int]:
    """Integers from ``start`` to at least ``stop``, ``per_octave`` a doubling (distinct, sorted)."""
    out, k = [start], 1
    while out[-1] < stop:
        v = round(start * 2 ** (k / per_octave))
        if v > out[-1]:
            out.append(v)
        k += 1
    return out


@functools.lru_cache(maxsize=1 << 16)  # called several times a serving step with few distinct values
def _snap(x: int, per_octave: int, exact: int) -> int:
    """``x`` at the nearest point of a geometric grid (exact below ``exact``)."""
    if x <= exact:
        return x
    return max(exact, round(2 ** (round(math.log2(x) * per_octave) / per_octave)))


# Token-part graphs and attention ops depend on the model, precision and step only, not on the chip: every
# design a worker evaluates on the same workload asks for mostly the same ones (hundreds a design). Keyed by a
# small number per (model, precision) pair (``_MODELS``), so a lookup does not hash the model's config.
_GRAPHS: dict[tuple[Any, ...], Any] = {}
_GRAPHS_MAX = 1 << 14
_MODELS: dict[tuple[Any, Any], int] = {}


# One object per distinct op value across the shared graphs: graphs of neighbouring token and sequence counts
# repeat most of their ops (a token count's projections, whatever the sequences), and an oracle's estimator
# memoizes each op object's shard and time by identity (``Estimator.op_memo``): equal ops are one object.
_OPS: dict[Op, Op] = {}


def _interned(g: Graph) -> Graph:
    """``g`` with each op replaced by the equal op already interned (``_OPS``), if any."""
    return replace(g, ops=tuple(_OPS.setdefault(op, op) for op in g.ops))


def _model_number(cfg: Any, precision: Any) -> int | None:
    """The (model, precision) pair's number in the shared cache (None: an unhashable config, not shared)."""
    try:
        return _MODELS.setdefault((cfg, precision), len(_MODELS))
    except TypeError:
        return None


class FastOracle(CostOracle):
    """``CostOracle`` with interpolated token work and bucketed attention (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        exact_tokens: int = 8,
        points_per_octave: int = 4,
        attention_per_octave: int = 6,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.exact_tokens = exact_tokens
        self.points_per_octave = points_per_octave
        self.attention_per_octave = attention_per_octave
        self._grid = geometric_grid(exact_tokens, 1 << 20, points_per_octave)
        self._att: dict[tuple[Any, ...], tuple[float, float, float]] = {}
        self._tok: dict[tuple[int, int, bool], tuple[float, float, float]] = {}
        self._model = _model_number(self.cfg, self.precision)
        par = self.parallel  # expert- and pipeline-parallel steps take the exact oracle's own paths
        self.fast = self.est.custom_timer and not self.cfg.mla and par.ep == 1 and par.pp == 1
        if self.fast:  # a mapper times the ops: a pure function of each op
            self.est.op_memo = {}
        self._steps: dict[
            StepShape, StepCost
        ] = {}  # a replay asks for the same shape again about half the time

    def _token_graph(self, tokens: int, seqs: int, mla: tuple[int, int]) -> Graph:
        build = super()._token_graph
        return self._shared(("g", tokens, seqs, mla), lambda: _interned(build(tokens, seqs, mla)))

    def _attention_ops(
        self, rep: int, attn: str, shape: StepShape, window: int, pre: tuple[int, int, int, int] | None
    ) -> list[Op]:
        key = ("a", rep, attn, shape, window, pre)
        return list(
            self._shared(
                key, lambda: tuple(super(FastOracle, self)._attention_ops(rep, attn, shape, window, pre))
            )
        )

    def _shared(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """``build()``, memoized across every oracle of the same model and precision (``_GRAPHS``)."""
        model = getattr(self, "_model", None)  # unset while CostOracle.__init__ runs
        if model is None:
            return build()
        key = (model, *key)
        hit = _GRAPHS.get(key)
        if hit is None:
            if len(_GRAPHS) >= _GRAPHS_MAX:
                _GRAPHS.clear()
                _OPS.clear()
            hit = _GRAPHS[key] = build()
        return hit

    def step(self, shape: StepShape) -> StepCost:
        if not self.fast:
            return super().step(shape)
        hit = self._steps.get(shape)
        if hit is None:
            hit = remember(self._steps, shape, self._step(shape))
        return hit

    def _step(self, shape: StepShape) -> StepCost:
        if shape.decode_seqs + shape.prefill_seqs == 0:
            return StepCost(0.0, 0.0)
        graph_mode = self.cuda_graph_decode and shape.prefill_seqs == 0
        # a verify step's tokens are query rows of their own (``graph.verify``), as in ``CostOracle.step``
        seqs = shape.decode_seqs * shape.decode_queries + shape.prefill_seqs
        t, e, h = self._tokens(shape.tokens, seqs, graph_mode)
        ta, ea, ha = self._attention_fast(shape, graph_mode)
        return self._finish(t + ta, e + ea, h + ha)

    # -- token-proportional work ------------------------------------------------------------------
    def _tokens(self, tokens: int, seqs: int, graph_mode: bool) -> tuple[float, float, float]:
        """The token part, memoized on its arguments: steps of different contexts (every decode step of
        a batch) share it."""
        key = (tokens, seqs, graph_mode)
        hit = self._tok.get(key)
        if hit is None:
            hit = remember(self._tok, key, self._tokens_uncached(tokens, seqs, graph_mode))
        return hit

    def _tokens_uncached(self, tokens: int, seqs: int, graph_mode: bool) -> tuple[float, float, float]:
        if tokens <= self.exact_tokens:
            return self._token_part(tokens, seqs, graph_mode, (0, 0))
        i = bisect.bisect_left(self._grid, tokens)
        hi = self._grid[i]
        if hi == tokens:
            return self._at(hi, tokens, seqs, graph_mode)
        lo = self._grid[i - 1]
        a = self._at(lo, tokens, seqs, graph_mode)
        b = self._at(hi, tokens, seqs, graph_mode)
        w = (tokens - lo) / (hi - lo)
        return a[0] + w * (b[0] - a[0]), a[1] + w * (b[1] - a[1]), a[2] + w * (b[2] - a[2])

    def _at(self, grid_tokens: int, tokens: int, seqs: int, graph_mode: bool) -> tuple[float, float, float]:
        s = seqs if seqs <= 4 else min(grid_tokens, max(1, round(seqs * grid_tokens / tokens)))
        return self._token_part(grid_tokens, min(s, grid_tokens), graph_mode, (0, 0))

    # -- attention ------------------------------------------------------------------------------
    def _attention_fast(self, shape: StepShape, graph_mode: bool) -> tuple[float, float, float]:
        t = e = h = 0.0
        k = self.attention_per_octave
        if shape.decode_seqs:
            q = shape.decode_queries  # queries a sequence: exact (a key of the memo), not bucketed
            ds = _snap(shape.decode_seqs, k, 16)
            mean = _snap(max(1, shape.decode_context // shape.decode_seqs), k, 16)
            ratio = (shape.decode_context + shape.decode_seqs * q) / (ds * mean + ds * q)  # KV read
            t1, e1, h1 = self._cached(("d", ds, mean, q, graph_mode), graph_mode)
            t, e, h = t + t1 * ratio, e + e1 * ratio, h + h1
        if shape.prefill_seqs:
            ps = _snap(shape.prefill_seqs, k, 4)
            pt = max(_snap(shape.prefill_tokens, k, 16), ps)
            pk = max(_snap(shape.prefill_kv_tokens, k, 16), pt)
            pc = min(max(_snap(shape.prefill_context, k, 16), pt), pt * pk)
            ratio = shape.prefill_context / pc
            t1, e1, h1 = self._cached(("p", ps, pt, pk, pc, graph_mode), graph_mode)
            t, e, h = t + t1 * ratio, e + e1 * ratio, h + h1
        return t, e, h

    def _cached(self, key: tuple[Any, ...], graph_mode: bool) -> tuple[float, float, float]:
        """Attention at the grid point ``key`` (the representative shape is built only on a miss)."""
        hit = self._att.get(key)
        if hit is None:
            if key[0] == "d":
                rep = StepShape(decode_seqs=key[1], decode_context=key[1] * key[2], decode_queries=key[3])
            else:
                rep = StepShape(
                    prefill_seqs=key[1],
                    prefill_tokens=key[2],
                    prefill_context=key[4],
                    prefill_kv_tokens=key[3],
                )
            hit = self._att[key] = self._attention(rep, graph_mode)
        return hit
