"""The token model's memos change no result: row buckets of matmuls, running sums per token count."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jalapeno.cost.op_time import matmul_compute_s
from jalapeno.cost.oracle import CostOracle, _without_attention
from jalapeno.cost.params import params_for
from jalapeno.cost.step import Estimator
from jalapeno.cost.token_model import TokenModel
from jalapeno.graph.batch import Batch, Sequence
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import BF16
from jalapeno.hardware import resolve_chip
from jalapeno.models import resolve_model

ROWS = [*list(range(1, 530)), 1000, 2047, 2048, 2049, 4095, 4097, 8191, 8193, 12345, 65536]


@pytest.mark.parametrize("chip", ["h200", "b200", "mi300x"])
@pytest.mark.parametrize("tiles", [None, (96, 160), (120, 200)])
def test_matmul_time_sees_rows_only_through_their_tiles(chip, tiles):
    """TokenModel memoizes matmul compute time per padded row count: exact only while op_time's model
    depends on M through the tiles it fills. If this fails, op_time changed: drop or adapt the bucket."""
    c = resolve_chip(chip)
    prm = params_for(c.name)
    if tiles is not None:
        prm = replace(prm, tile_m=tiles[0], tile_n=tiles[1])
    est = Estimator(c, prm)
    tm = TokenModel(resolve_model("llama-3.1-8b"), BF16, est)
    for tpl in (t for t in tm.templates if t.matmul):
        for rows in ROWS:
            args = (tpl.n, tpl.k, 1, tpl.peak, est.rates, prm, tpl.eff)
            assert matmul_compute_s(tm.padded_rows(rows), *args) == matmul_compute_s(rows, *args), (rows, tpl)


def _reference(o: CostOracle, tokens: int, seqs: int, graph_mode: bool) -> tuple[float, float, float]:
    """The token part from a built graph: price_ops without attention, plus the collectives."""
    first = tokens - (seqs - 1)
    g = build_graph(o.cfg, Batch((Sequence(first, 0),) + (Sequence(1, 0),) * (seqs - 1)), o.precision)
    _, t, e, host = o.est.price_ops(_without_attention(g), cuda_graph=graph_mode)
    comm_s, link = o.est.comm(g)
    return t + comm_s, e + link * o.est.params.pj_per_byte_link * 1e-12, host


@pytest.mark.parametrize(("model", "tp"), [("llama-3.1-8b", 1), ("llama-3.1-8b", 2), ("qwen2.5-coder-7b", 1)])
def test_memoized_token_part_equals_the_graph(model, tp):
    """One model answers a sequence of steps that revisit token counts, row buckets and batch sizes
    in both graph modes: every answer equals pricing the step's graph."""
    c = resolve_chip("h200")
    o = CostOracle(resolve_model(model), c, params_for(c.name), tp=tp)
    tm = o._fast
    assert tm is not None
    steps = [
        (1, 1, True),
        (17, 17, True),
        (17, 17, False),
        (300, 3, False),
        (300, 7, False),
        (301, 7, False),
        (303, 2, False),
        (2048, 1, False),
        (2050, 9, False),
        (2050, 9, True),
        (64, 64, True),
        (65, 65, True),
        (5000, 40, False),
        (4999, 40, False),
        (1, 1, True),
    ]
    for tokens, seqs, graph_mode in steps:
        got = tm.time_energy(tokens, seqs, graph_mode)
        want = _reference(o, tokens, seqs, graph_mode)
        assert got == pytest.approx(want, rel=1e-9), (tokens, seqs, graph_mode)
