"""AMD's open-division MLPerf v5.1 Llama-3.1-405B result ran a pruned checkpoint: the row names the model
it served (llama-3.1-405b-pruned, 100 of 126 decoder layers) on the 405B benchmark's requests."""

from __future__ import annotations

import json
from importlib import resources

from jalapeno.cost.published import WORKLOADS, ServingConfig, benchmark_of, load_published
from jalapeno.cost.published_fit import row_lengths
from jalapeno.models import count_params
from jalapeno.models.registry import resolve_model

ROW_ID = "5.1-0101:llama3.1-405b:Offline"
YAML = "open/AMD/code/llama3_1-405b_pruned/harness_llm/models/llama3-405b/offline_mi355x.yaml"


def test_pruned_model_is_the_405b_less_layers_59_to_84() -> None:
    """drop_layers.py -i 59 -f 84 drops 84 - 59 + 1 = 26 layers: 126 - 26 = 100 kept. Every layer is the
    same size, so the decoder weights scale by exactly 100 / 126; the embedding and LM head (2 x 128,256 x
    16,384 = 4.20B) stay. Whole model: 405.85B x 100 / 126 = 322.1B would be 0.27% low (the tables are not
    pruned), so within 0.5% of the naive scaling and exact once the tables and final norm are set apart."""
    full, pruned = resolve_model("llama-3.1-405b"), resolve_model("llama-3.1-405b-pruned")
    assert (full.num_layers, pruned.num_layers) == (126, 100)
    tables, final_norm = 2 * 128256 * 16384, 16384
    attn = 2 * 16384 * 16384 + 2 * 16384 * 1024  # q, o; k, v of 8 KV heads x 128
    layer = attn + 3 * 16384 * 53248 + 2 * 16384  # + gate, up, down; two norms: 3,187,703,808
    p_full, p_pruned = count_params(full).total, count_params(pruned).total
    assert p_full == tables + final_norm + 126 * layer == 405_853_388_800
    assert p_pruned == tables + final_norm + 100 * layer == 322_973_089_792
    assert abs(p_pruned / (p_full * 100 / 126) - 1) < 0.005
    # every other field is the 405B's
    d_full, d_pruned = (
        json.loads(resources.files("jalapeno.models").joinpath("configs", f).read_text())
        for f in ("llama-3.1-405b.json", "llama-3.1-405b-pruned.json")
    )
    src = d_pruned.pop("_source")
    assert "offline_mi355x.yaml" in src and "drop_layers.py" in src
    assert {k: v for k, v in d_pruned.items() if k != "num_hidden_layers"} == {
        k: v for k, v in d_full.items() if k != "num_hidden_layers"
    }


def test_mi355x_row_names_the_pruned_model_and_its_published_configuration() -> None:
    """offline_mi355x.yaml: tensor_parallel_size 1 (eight replicas on 8 GPUs), max_num_seqs 2816,
    enable_chunked_prefill False (max_num_batched_tokens 22000 then caps a prefill batch, not a mixed
    step: no step budget), enforce_eager False (graphs on); pipeline_parallel_size absent (1);
    num_scheduler_steps 16 (data/published_engines)."""
    row = next(r for r in load_published() if r.id == ROW_ID)
    assert (row.chip, row.division, row.model) == ("mi355x", "open", "llama-3.1-405b-pruned")
    assert row.tp == 1
    assert row.serving == ServingConfig(
        pp=1, max_batch=2816, max_num_tokens=None, cuda_graphs=True, scheduler_steps=16
    )
    assert row.config_url.endswith(YAML)
    assert row.n_submissions == 1  # the fine-tuned 84-layer checkpoint's result is another model, left out


def test_pruned_model_runs_the_405b_benchmarks_lengths() -> None:
    row = next(r for r in load_published() if r.id == ROW_ID)
    assert benchmark_of(row.model) == "llama-3.1-405b"
    assert benchmark_of("llama-2-70b") == "llama-2-70b"
    w = WORKLOADS["llama-3.1-405b"]
    assert row_lengths(row) == (w.isl, w.osl, None) == (9429, 652, None)
