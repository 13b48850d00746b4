"""graph.verify: a speculative verify step is a decode step of q tokens a sequence whose attention reads
each sequence's KV once."""

from __future__ import annotations

import pytest

from jalapeno.errors import JalapenoError
from jalapeno.graph.batch import Batch
from jalapeno.graph.builder import build_graph
from jalapeno.graph.precision import Precision
from jalapeno.graph.verify import verify_graph
from jalapeno.models import resolve_model


@pytest.mark.parametrize("model", ["deepseek-v3", "llama-3.1-8b"])
def test_verify_doubles_every_token_but_not_the_kv_read(model):
    cfg, prec = resolve_model(model), Precision.of("fp8", "fp8", "bf16")
    one = build_graph(cfg, Batch.decode(16, 4000), prec)
    two = verify_graph(cfg, 16, 4000, 2, prec)
    by1 = {o.name: o for o in one.ops}
    by2 = {o.name: o for o in two.ops}
    assert by1.keys() == by2.keys()
    a1, a2 = by1["attn_decode"], by2["attn_decode"]
    assert a2.flops == pytest.approx(2 * a1.flops)  # each of the 2 query tokens attends over the context
    assert a2.kv_read_bytes == pytest.approx(a1.kv_read_bytes)  # the sequence's cache is read once
    assert two.batch.new_tokens == 32 and two.batch.logits_tokens == 32  # every verified token gets logits
    # the projections do twice the work (weights read once either way)
    proj = "o_proj"
    assert by2[proj].flops == pytest.approx(2 * by1[proj].flops)
    assert by2[proj].weight_bytes == by1[proj].weight_bytes


def test_one_token_is_a_plain_decode_and_zero_is_an_error():
    cfg, prec = resolve_model("deepseek-v3"), Precision.of("bf16")
    assert verify_graph(cfg, 4, 100, 1, prec) == build_graph(cfg, Batch.decode(4, 100), prec)
    with pytest.raises(JalapenoError):
        verify_graph(cfg, 4, 100, 0, prec)
