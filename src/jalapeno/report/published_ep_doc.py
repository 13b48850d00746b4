"""The validation page's expert-parallel section: DeepSeek-R1 rows priced through the MoE path.

Rows served with expert parallelism (``PublishedRow.expert_parallel``) are checks of ``cost.published_ep``,
never fitted and kept out of every chip's band; this section lists them per chip with the published
configuration, and, where the run's log summary is bundled, sets the run's mean time per output token
against the model's cycle at the run's number of decoding requests (Little's law), which separates the
step's price from the scenario's batch choice.
"""

from __future__ import annotations

from collections.abc import Sequence

from jalapeno.cost.published_fit import Checked, ChipFit, row_shape
from jalapeno.report.markdown import pct, table


def _config(c: Checked) -> str:
    r = c.row
    attn = "attention DP" if r.attention_dp else "attention TP"
    return f"TP{r.tp} EP{r.ep} {attn}, {r.max_batch or '-'} a rank"


def _step(c: Checked, chip_name: str, params: object, logs: dict) -> tuple[str, str]:
    """(the run's decoding requests a group, published mean TPOT / model cycle there) or dashes."""
    from jalapeno.cost.published_ep import ep_parallel, group_cycle_s
    from jalapeno.cost.published_run import preset_or_none
    from jalapeno.models import resolve_model

    g = logs.get(c.row.id)
    chip = preset_or_none(chip_name)
    if g is None or chip is None:
        return "-", "-"
    groups = max(1, c.row.n_chips // ep_parallel(c.row).chips)
    b = max(1, round(g.decoding(groups)))
    shape = row_shape(c.row)
    model_s = group_cycle_s(c.row, resolve_model(c.row.model), chip, params, shape, b)  # type: ignore[arg-type]
    return f"{b:,}", f"{g.tpot_mean_s * 1e3:.1f} / {model_s * 1e3:.1f} ms (x{g.tpot_mean_s / model_s:.2f})"


def ep_table(fits: Sequence[ChipFit]) -> str:
    from jalapeno.cost.params import fused_engine
    from jalapeno.cost.scenario_limits import load_logged_runs

    logs = load_logged_runs()
    rows = []
    for f in fits:
        for c in sorted(f.ep_checked, key=lambda c: (c.row.model, c.row.scenario, c.row.n_chips)):
            busy, step = _step(c, f.chip, fused_engine(f.params), logs)
            rows.append(
                [
                    f.chip,
                    c.row.model,
                    c.row.scenario,
                    f"{c.row.n_chips}x",
                    c.row.precision,
                    _config(c),
                    f"{c.row.per_chip:,.0f}",
                    "-" if c.predicted is None else f"{c.predicted:,.0f}",
                    "-" if c.error is None else pct(c.error),
                    busy,
                    step,
                    f"[{c.row.submitter}]({c.row.url})" + (" (open)" if c.row.division == "open" else ""),
                ]
            )
    return table(
        [
            "chip",
            "model",
            "scenario",
            "GPUs",
            "precision",
            "published configuration",
            "published tok/s/GPU",
            "predicted",
            "error",
            "decoding a group (run)",
            "mean TPOT: run / model there",
            "source",
        ],
        rows,
        "llllllrrrrrl",
    )


def ep_section(fits: Sequence[ChipFit]) -> list[str]:
    """The section's lines ([] where no fitted chip has an expert-parallel row)."""
    if not any(f.ep_checked for f in fits):
        return []
    return [
        "## Expert-parallel rows (DeepSeek-R1: MLPerf v5.1, a TensorRT-LLM recipe): the MoE path, held out",
        "",
        (
            "Priced by `cost.published_ep`: the scenario model's cycle with each step the expert-parallel "
            "group's (`cost.expert.ep_step`: attention data-parallel over the group's GPUs, experts spread "
            "over them, uniform routing's imbalance), under each chip's parameters as its Llama-2-70B rows "
            "fitted them. The MLPerf rows run their configs' TensorRT-LLM scheduler (`cost.adp`, settings in "
            "data/published_engines/trtllm_adp.csv): attention-DP balance holds prompts and releases them "
            "together every few steps, the release step is the slowest rank's, decode steps replay CUDA "
            "graphs padded to the captured sizes; the KV cache is the configs' share of the memory the "
            "weights leave (docs/validation-moe.md, MLPerf DeepSeek-R1). "
            "Never fitted; not in any band, summary or order check above. The last columns take "
            "the run's log summary (MLPerf server rows): decoding requests a group by Little's law "
            "(samples/s x (mean latency - mean TTFT) / groups), and the run's mean time per output token "
            "against the model's mean cycle at that batch. The vendor row is TensorRT-LLM's DeepSeek-R1 "
            "max-throughput recipe (fixed 1,024 / 2,048 tokens, 7,168 requests in flight)."
        ),
        "",
        ep_table(fits),
        "",
    ]
