"""``jalapeno measure serve`` on a CPU: the prefill_first policy, conservation and timing invariants with
a scripted backend, the padded/masked slot decode against a per-sequence reference, end-to-end greedy
tokens, the budget, the CUDA-graph fallback and the JSON record. Skipped without torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import jsonschema
from tiny_models import tiny_cfg as shared_tiny_cfg

from jalapeno import schemas
from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.measure.serve_engine import (
    TIMING_KEYS,
    Engine,
    EngineConfig,
    ReplayClock,
    batch_buckets,
    bucket_of,
    choose,
    context_length,
)
from jalapeno.measure.serve_model import DecodeGraphs, SlotModel, TorchBackend, prompt_ids
from jalapeno.measure.serve_replay import cap_requests, fit_slots, max_len_for
from jalapeno.measure.torch_model import TorchDecoder
from jalapeno.models.config import ModelConfig
from jalapeno.workload.request import Request

CPU = torch.device("cpu")
TOP_KEYS = {
    "schema",
    "measured",
    "device",
    "torch",
    "model",
    "trace",
    "slice",
    "policy",
    "requests",
    "steps",
    "capture_s",
    "wall_s",
    "incomplete",
}
POLICY_KEYS = {
    "name",
    "max_num_seqs",
    "batch_buckets",
    "context_bucket",
    "max_prompt",
    "max_output",
    "cuda_graph",
}
REQUEST_KEYS = {
    "request_id",
    "arrival_s",
    "prompt_tokens",
    "output_tokens",
    "first_token_s",
    "finish_s",
    "ttft_s",
    "tpot_s",
    "queue_s",
}


def tiny_cfg(**kw: Any) -> ModelConfig:
    """The shared tiny model with room for the replayed prompts (1,024 positions)."""
    return shared_tiny_cfg(**{"max_position_embeddings": 1024, **kw})


CONFIGS = {
    "llama": tiny_cfg(),
    "qwen3-sliding": tiny_cfg(
        qkv_bias=True, qk_norm=True, sliding_window=8, layer_attention=("sliding", "full")
    ),
}


def reqs(spec: list[tuple[float, int, int]], t0: float = 0.0) -> list[Request]:
    """(arrival offset, prompt, output) -> requests numbered from 0."""
    return [Request(i, t0 + a, p, o) for i, (a, p, o) in enumerate(spec)]


# ---- pure policy pieces ----


def test_choose_is_prefill_first() -> None:
    assert choose(1, 0, 4) == "prefill"
    assert choose(3, 3, 4) == "prefill"
    assert choose(3, 4, 4) == "decode"  # no free slot
    assert choose(0, 2, 4) == "decode"
    assert choose(0, 0, 4) == "wait"
    assert choose(2, 1, 4, admitting=False) == "decode"  # budget spent: drain only
    assert choose(2, 0, 4, admitting=False) == "wait"


def test_buckets_and_context_length() -> None:
    assert batch_buckets(64) == (1, 2, 4, 8, 16, 32, 64)
    assert batch_buckets(48) == (1, 2, 4, 8, 16, 32, 48)
    assert [bucket_of(b, batch_buckets(64)) for b in (1, 2, 3, 5, 17, 33, 64)] == [1, 2, 4, 8, 32, 64, 64]
    assert [context_length(c, 8192) for c in (0, 254, 255, 256, 1000)] == [256, 256, 256, 512, 1024]
    assert context_length(8191, 8192) == 8192


def test_caps_max_len_and_slot_fit() -> None:
    capped = cap_requests((Request(0, 0.0, 9000, 300), Request(1, 0.1, 0, 0)), 8192, 256)
    assert [(r.prompt_tokens, r.output_tokens) for r in capped] == [(8192, 256), (1, 1)]
    assert max_len_for(capped) == 8192 + 256 + 256
    per_tok = 131072  # Llama-3.1-8B bf16
    assert fit_slots(64, 8192, per_tok, None) == (64, None)
    assert fit_slots(64, 8192, per_tok, 124 * 10**9) == (64, None)  # 68.7 GB <= 74.4 GB
    slots, why = fit_slots(64, 8192, per_tok, 62 * 10**9)  # an H100 after the weights
    assert slots == 32 and why is not None and "reduced to 32" in why
    with pytest.raises(JalapenoError):
        fit_slots(64, 8192, per_tok, 10**9)


# ---- the engine with a scripted backend on a virtual clock ----


class VirtualClock(ReplayClock):
    """Time moves only when the engine waits or a backend says a step took time: deterministic runs."""

    def __init__(self) -> None:
        super().__init__()
        self.t = 0.0

    def start(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 1e-4)  # the engine spins for the last 2 ms: make progress anyway


class FakeBackend:
    """Steps take fixed virtual time; checks the engine's slot bookkeeping (contexts, compaction moves)."""

    def __init__(self, clock: VirtualClock, prefill_s: float = 0.004, decode_s: float = 0.002) -> None:
        self.clock, self.prefill_s, self.decode_s = clock, prefill_s, decode_s
        self.cached: dict[int, int] = {}  # slot -> positions cached
        self.rid: dict[int, int] = {}  # slot -> request id
        self.decodes: list[list[int]] = []  # request ids per decode, in slot order
        self.prefills = 0

    def prefill(self, slot: int, request_id: int, prompt_tokens: int) -> None:
        self.clock.t += self.prefill_s
        self.prefills += 1
        self.cached[slot], self.rid[slot] = prompt_tokens, request_id

    def prepare(self, ctx: list[int], bucket: int, length: int) -> None:
        pass

    def decode(self, ctx: list[int], bucket: int, length: int) -> bool:
        assert len(ctx) <= bucket and max(ctx) < length
        assert ctx == [self.cached[i] for i in range(len(ctx))]
        self.decodes.append([self.rid[i] for i in range(len(ctx))])
        for i in range(len(ctx)):
            self.cached[i] += 1
        self.clock.t += self.decode_s
        return False

    def move(self, src: int, dst: int, length: int) -> None:
        assert length == self.cached[src]
        self.cached[dst], self.rid[dst] = self.cached[src], self.rid[src]

    def tokens(self, batch: int) -> list[int]:
        return [0] * batch

    def sync(self) -> None:
        pass


BURSTY = [
    (0.0, 30, 5),
    (0.0, 40, 1),
    (0.0, 20, 7),
    (0.0, 10, 3),
    (0.0, 50, 2),
    (0.015, 25, 6),
    (0.016, 25, 1),
    (0.030, 60, 4),
    (0.080, 12, 3),
]


def run_fake(max_num_seqs: int, budget_prefills: int | None = None) -> tuple[Engine, FakeBackend]:
    """``budget_prefills``: the budget runs out once that many prefills have run."""
    clock = VirtualClock()
    b = FakeBackend(clock)
    cfg = EngineConfig(max_num_seqs=max_num_seqs, max_len=512)

    def left() -> float:
        return float("inf") if budget_prefills is None else budget_prefills - b.prefills - 0.5

    e = Engine(b, reqs(BURSTY, t0=0.005), cfg, clock=clock, budget_left=left)
    e.run()
    return e, b


@pytest.mark.parametrize("max_num_seqs", [2, 64])
def test_conservation_and_latency_invariants(max_num_seqs: int) -> None:
    e, b = run_fake(max_num_seqs)
    assert e.incomplete() == []
    prefill_of = {s["request_id"]: s for s in e.steps if s["kind"] == "prefill"}
    for s in e.seqs:
        r = s.row()
        assert s.generated == r["output_tokens"]
        assert sum(r["request_id"] in d for d in b.decodes) == r["output_tokens"] - 1  # one token a decode
        p = prefill_of[r["request_id"]]
        assert r["ttft_s"] >= p["end_s"] - p["start_s"] and r["queue_s"] >= 0
        assert r["first_token_s"] == p["end_s"] and r["arrival_s"] <= p["start_s"]
        assert (r["tpot_s"] is None) == (r["output_tokens"] == 1)
    assert [s["request_id"] for s in e.steps if s["kind"] == "prefill"] == list(range(len(BURSTY)))  # FCFS


@pytest.mark.parametrize("max_num_seqs", [2, 64])
def test_steps_never_overlap_and_follow_the_policy(max_num_seqs: int) -> None:
    e, _ = run_fake(max_num_seqs)
    rows = [s.row() for s in e.seqs]
    for prev, nxt in zip(e.steps, e.steps[1:], strict=False):
        assert prev["start_s"] <= prev["end_s"] <= nxt["start_s"]
    for st in e.steps:
        assert st["kind"] == choose(st["waiting"], st["running"], max_num_seqs)
        t = st["start_s"]
        running = sum(1 for r in rows if r["first_token_s"] <= t < r["finish_s"])
        assert st["running"] == running <= max_num_seqs
        waited = [r for r in rows if r["arrival_s"] <= t < r["queue_s"] + r["arrival_s"]]
        assert st["waiting"] == len(waited) + (st["kind"] == "prefill")
        if st["kind"] == "decode":
            assert st["batch"] == running and (not waited or running == max_num_seqs)
    if max_num_seqs == 2:
        assert any(st["kind"] == "decode" and st["waiting"] > 0 for st in e.steps)  # the burst had to queue


def test_budget_stops_admission_and_drains() -> None:
    e, b = run_fake(64, budget_prefills=3)
    assert b.prefills == 3
    done = {s.req.request_id for s in e.seqs if s.finish_s is not None}
    assert e.budget_hit_s is not None
    assert done and e.incomplete() and done.isdisjoint(e.incomplete())
    assert done | set(e.incomplete()) == set(range(len(BURSTY)))
    assert all(s.generated in (0, s.req.output_tokens) for s in e.seqs)  # running ones drained fully


# ---- the torch slot model ----


def reference_tokens(
    cfg: ModelConfig, rid: int, prompt: int, output: int, device: Any = CPU, dtype: Any = None
) -> tuple[list[int], list[Any]]:
    """Greedy tokens and logits of one request alone: batch 1, no padding, ``TorchDecoder`` as is."""
    ref = TorchDecoder(cfg, device, dtype=dtype, seed=0)
    ref.alloc_cache(1, prompt + output + 1, fill=False)
    logits = ref.prefill(prompt_ids(rid, prompt, cfg.vocab_size).to(device))
    toks, all_logits = [int(logits[0].argmax())], [logits[0]]
    for i in range(output - 1):
        logits = ref.decode(torch.tensor([toks[-1]], device=device), prompt + i)
        toks.append(int(logits[0].argmax()))
        all_logits.append(logits[0])
    return toks, all_logits


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_padded_masked_decode_matches_per_sequence(name: str) -> None:
    cfg = CONFIGS[name]
    prompts = {0: 5, 1: 17, 2: 30}  # request id -> prompt tokens; slot = id at first
    refs = {r: reference_tokens(cfg, r, p, 6)[1] for r, p in prompts.items()}
    sm = SlotModel(TorchDecoder(cfg, CPU, seed=0), slots=8, max_len=512)
    slots = list(prompts)  # slots[i] = request in slot i
    for s, r in enumerate(slots):
        torch.testing.assert_close(sm.prefill(s, prompt_ids(r, prompts[r], cfg.vocab_size))[0], refs[r][0])
    for step in range(1, 6):
        ctx = [prompts[r] + step - 1 for r in slots]
        bucket = bucket_of(len(slots), batch_buckets(8))
        sm.set_positions(ctx, bucket)
        logits = sm.decode_step(bucket, context_length(max(ctx), 512))
        sm.accept(len(slots))
        for i, r in enumerate(slots):
            torch.testing.assert_close(logits[i], refs[r][step], rtol=1e-4, atol=1e-4)
        if step == 2:  # request 0 leaves: the last slot moves into slot 0
            sm.move(len(slots) - 1, 0, prompts[slots[-1]] + step)
            slots = [slots[-1], *slots[1:-1]]


class TimedTorch(TorchBackend):
    """The real torch backend, with each step taking fixed virtual time (deterministic interleaving)."""

    def __init__(self, sm: SlotModel, graphs: DecodeGraphs, clock: VirtualClock) -> None:
        super().__init__(sm, graphs)
        self.clock = clock

    def prefill(self, slot: int, request_id: int, prompt_tokens: int) -> None:
        super().prefill(slot, request_id, prompt_tokens)
        self.clock.t += 0.004

    def decode(self, ctx: list[int], bucket: int, length: int) -> bool:
        self.clock.t += 0.002
        return super().decode(ctx, bucket, length)


def run_torch(
    cfg: ModelConfig,
    spec: list[tuple[float, int, int]],
    max_num_seqs: int,
    graphs_enabled: bool = False,
    device: Any = CPU,
    dtype: Any = None,
) -> tuple[Engine, DecodeGraphs]:
    sm = SlotModel(TorchDecoder(cfg, device, dtype=dtype, seed=0), slots=max_num_seqs, max_len=512)
    graphs = DecodeGraphs(sm, enabled=graphs_enabled)
    clock = VirtualClock()
    e = Engine(
        TimedTorch(sm, graphs, clock),
        reqs(spec, t0=0.01),
        EngineConfig(max_num_seqs=max_num_seqs, max_len=512, keep_tokens=True),
        clock=clock,
    )
    with torch.inference_mode():
        e.run()
    return e, graphs


# t=0: four prefills (one finishes there, its slot stays free), then B=3 in bucket 4; request 0 leaves
# after one decode and slot 2 moves into slot 0; later arrivals join a running batch in dirty slots,
# one needs L=512, and at t=0.03 a request waits for a full batch (max_num_seqs=4)
SPEC = [
    (0.0, 9, 2),
    (0.0, 40, 6),
    (0.0, 3, 4),
    (0.0, 23, 1),
    (0.019, 300, 4),
    (0.02, 7, 8),
    (0.03, 31, 5),
    (0.03, 11, 9),
    (0.03, 5, 3),
]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_engine_tokens_equal_unbatched_greedy_decode(name: str) -> None:
    cfg = CONFIGS[name]
    e, _ = run_torch(cfg, SPEC, max_num_seqs=4)
    assert e.incomplete() == []
    assert any(s["kind"] == "decode" and s["bucket"] > s["batch"] for s in e.steps)  # padding happened
    assert any(s["kind"] == "decode" and s["compact_s"] > 0 for s in e.steps)  # a slot moved
    assert {s["L"] for s in e.steps if s["kind"] == "decode"} == {256, 512}
    assert any(s["kind"] == "decode" and s["waiting"] > 0 for s in e.steps)  # a full batch made one wait
    for s in e.seqs:
        assert (
            s.tokens == reference_tokens(cfg, s.req.request_id, s.req.prompt_tokens, s.req.output_tokens)[0]
        )


def test_graph_capture_failure_falls_back_to_eager() -> None:
    spec = [(0.0, 9, 4), (0.0, 12, 3)]
    e, graphs = run_torch(CONFIGS["llama"], spec, max_num_seqs=2, graphs_enabled=True)  # no CUDA here
    assert graphs.fallback is not None and "capture failed" in graphs.fallback
    assert not graphs.enabled and graphs.graphs == {}
    assert e.incomplete() == [] and not any(s.get("graph") for s in e.steps)
    for s in e.seqs:
        assert (
            s.tokens
            == reference_tokens(CONFIGS["llama"], s.req.request_id, s.req.prompt_tokens, s.req.output_tokens)[
                0
            ]
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_cuda_graph_steps_equal_eager_and_the_reference(name: str) -> None:
    cfg, dev = CONFIGS[name], torch.device("cuda")
    for dtype in (torch.float32, torch.bfloat16):
        graphed, graphs = run_torch(cfg, SPEC, 4, graphs_enabled=True, device=dev, dtype=dtype)
        eager, _ = run_torch(cfg, SPEC, 4, graphs_enabled=False, device=dev, dtype=dtype)
        assert graphs.fallback is None and graphs.graphs and graphs.capture_s > 0
        assert all(s["graph"] for s in graphed.steps if s["kind"] == "decode")
        assert [s.tokens for s in graphed.seqs] == [s.tokens for s in eager.seqs]
        graphs.reset()
    fp32, _ = run_torch(cfg, SPEC, 4, graphs_enabled=True, device=dev, dtype=torch.float32)
    for s in fp32.seqs:
        r = s.req
        assert (
            s.tokens
            == reference_tokens(cfg, r.request_id, r.prompt_tokens, r.output_tokens, dev, torch.float32)[0]
        )


# ---- the command ----


def test_quick_cpu_run_writes_the_schema(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "serve.json"
    argv = ["measure", "serve", "--device", "cpu", "--quick", "--start-s", "265", "--duration-s", "1"]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # --json: the document alone on stdout, progress on stderr
    jsonschema.validate(doc, schemas.load(doc["schema"]))
    assert doc["schema"] == "jalapeno.measure.serve/2" and doc["file"] == str(out) and doc["complete"] is True
    assert doc["requests"] == doc["completed"] == 8 and doc["unfinished"] == 0 and doc["cuda_graph"] is False
    assert doc["steps"] == doc["prefill_steps"] + doc["decode_steps"] and doc["prefill_steps"] == 8
    d = json.loads(out.read_text())
    assert doc["output_tokens"] == sum(r["generated"] for r in d["requests"])
    assert set(d) >= TOP_KEYS and set(d["policy"]) >= POLICY_KEYS
    jsonschema.validate(d, schemas.file_schema("measure.serve"))  # the format docs/json.md publishes
    assert d["schema"] == 1 and d["policy"]["name"] == "prefill_first" and d["policy"]["cuda_graph"] is False
    assert d["slice"] == {"start_s": 265.0, "duration_s": 1.0, "requests": 8} and d["complete"] is True
    assert d["incomplete"] == [] and len(d["requests"]) == 8
    assert all(
        set(r) >= REQUEST_KEYS and r["prompt_tokens"] <= 128 and r["output_tokens"] <= 16
        for r in d["requests"]
    )
    kinds = {s["kind"] for s in d["steps"]}
    assert kinds == {"prefill", "decode"}
    assert all(set(TIMING_KEYS) <= set(s) and s["device_s"] is None for s in d["steps"])  # the breakdown
    assert not (tmp_path / "serve.json.tmp").exists()


def test_zero_budget_admits_nothing(tmp_path: Path) -> None:
    out = tmp_path / "serve.json"
    assert (
        main(
            [
                "measure",
                "serve",
                "--device",
                "cpu",
                "--quick",
                "--duration-s",
                "1",
                "--budget-s",
                "0",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert d["steps"] == [] and sorted(d["incomplete"]) == sorted(r["request_id"] for r in d["requests"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--start-s", "100", "--duration-s", "10"],  # no arrivals there
        ["--max-prompt", "0"],
        ["--duration-s", "0"],
        ["--model", "no-such-model"],
    ],
)
def test_bad_input_is_one_error_line(tmp_path: Path, argv: list[str], capsys: pytest.CaptureFixture) -> None:
    code = main(["measure", "serve", "--device", "cpu", "--quick", "--out", str(tmp_path / "x.json"), *argv])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_unmasked_padded_decode_equals_masked_when_nothing_is_padded(name: str) -> None:
    """The timing mode attends every position of [0, L): with all contexts at L - 1 it is exact."""
    cfg = CONFIGS[name]
    if cfg.sliding_window:
        pytest.skip("sliding layers always need a mask")
    out = []
    for masked in (True, False):
        sm = SlotModel(TorchDecoder(cfg, CPU, seed=0), slots=4, max_len=256, masked=masked)
        for s in range(2):
            sm.prefill(s, prompt_ids(s, 255, cfg.vocab_size))
        sm.set_positions([255, 255], 2)
        out.append(sm.decode_step(2, context_length(255, 256)))
    torch.testing.assert_close(out[0][:2], out[1][:2], rtol=1e-4, atol=1e-4)
