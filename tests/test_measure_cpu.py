"""The measurement engine on a CPU: the KV-cache path against a naive full recompute, the JSON record,
the budget, and per-point error isolation. Skipped without torch (the ``measure`` extra)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import jsonschema
from cli_harness import run
from tiny_models import tiny_cfg

from jalapeno import schemas
from jalapeno.cli import main
from jalapeno.errors import JalapenoError
from jalapeno.measure import shapes
from jalapeno.measure.device import sustained_energy
from jalapeno.measure.jobs import Ctx, Job, Skip
from jalapeno.measure.runner import Record, run_jobs
from jalapeno.measure.shapes import QUICK
from jalapeno.measure.torch_model import ROPE_THETA, TorchDecoder
from jalapeno.models.config import MoEConfig

CPU = torch.device("cpu")
TOP_KEYS = {
    "schema",
    "measured",
    "device",
    "torch",
    "idle_power_W",
    "copy",
    "gemm",
    "attention",
    "elementwise",
    "steps",
    "skipped",
    "wall_s",
}
STEP_KEYS = {
    "model",
    "phase",
    "batch",
    "cuda_graph",
    "s",
    "s_p90",
    "tokens_per_s",
    "joules",
    "energy_s",
    "avg_W",
    "J_per_token",
}


# ---- a naive reference: no cache, explicit softmax, pairwise RoPE, K/V heads repeated by hand ----


def _rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w


def _rope(x, pos):  # x (B, n, T, hd), pos (T,)
    hd = x.shape[-1]
    half = hd // 2
    inv = ROPE_THETA ** (-torch.arange(half, dtype=torch.float64) * 2 / hd)
    ang = pos[:, None].double() * inv[None, :]  # (T, half)
    c, s = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * c - x2 * s, x2 * c + x1 * s), dim=-1)


def naive_logits(m: TorchDecoder, tokens):
    """Logits of the last position of ``tokens (B, T)``, recomputing the whole sequence."""
    cfg = m.cfg
    b, t = tokens.shape
    nh, nkv, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    pos = torch.arange(t)
    x = m.embed[tokens]
    for li, L in enumerate(m.layers):
        h = _rms(x, L.ln1)
        qkv = h @ L.w_qkv.T + (L.b_qkv if L.b_qkv is not None else 0)
        q, k, v = qkv.split([nh * hd, nkv * hd, nkv * hd], dim=-1)
        q = q.reshape(b, t, nh, hd).permute(0, 2, 1, 3)
        k = k.reshape(b, t, nkv, hd).permute(0, 2, 1, 3)
        v = v.reshape(b, t, nkv, hd).permute(0, 2, 1, 3)
        if cfg.qk_norm:
            q, k = _rms(q, L.q_norm), _rms(k, L.k_norm)
        q, k = _rope(q, pos), _rope(k, pos)
        k = torch.stack([k[:, j // (nh // nkv)] for j in range(nh)], dim=1)
        v = torch.stack([v[:, j // (nh // nkv)] for j in range(nh)], dim=1)
        allowed = pos[None, :] <= pos[:, None]
        if cfg.layer_attention[li] == "sliding":
            allowed &= (pos[:, None] - pos[None, :]) < cfg.sliding_window
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v  # (B, nh, T, hd)
        x = x + att.permute(0, 2, 1, 3).reshape(b, t, nh * hd) @ L.w_o.T
        gate, up = (_rms(x, L.ln2) @ L.w_gate_up.T).chunk(2, dim=-1)
        x = x + (torch.nn.functional.silu(gate) * up) @ L.w_down.T
    return _rms(x[:, -1], m.norm) @ m.lm_head.T


CASES = {
    "llama": tiny_cfg(),
    "qwen2 bias, tied": tiny_cfg(qkv_bias=True, tie_embeddings=True),
    "qwen3 qk_norm": tiny_cfg(qk_norm=True, num_kv_heads=1),
    "mha": tiny_cfg(num_kv_heads=4),
    "sliding": tiny_cfg(layer_attention=("sliding", "full"), sliding_window=5),
}


@pytest.mark.parametrize("mode", ["native", "repeat"])
@pytest.mark.parametrize("case", list(CASES))
def test_decode_with_cache_matches_full_recompute(case: str, mode: str) -> None:
    m = TorchDecoder(CASES[case], CPU, dtype=torch.float64, seed=1)
    m.mode = mode
    b, ctx, steps = 3, 11, 3
    tokens = torch.randint(0, m.cfg.vocab_size, (b, ctx + steps), generator=torch.Generator().manual_seed(2))
    m.alloc_cache(b, ctx + steps)
    got = m.prefill(tokens[:, :ctx])
    assert torch.allclose(got, naive_logits(m, tokens[:, :ctx]), atol=1e-9, rtol=1e-9)
    for i in range(steps):  # each decode step writes position ctx+i and attends over ctx+i+1 tokens
        got = m.decode(tokens[:, ctx + i], ctx + i)
        want = naive_logits(m, tokens[:, : ctx + i + 1])
        assert got.shape == (b, m.cfg.vocab_size)
        assert torch.allclose(got, want, atol=1e-9, rtol=1e-9), (case, i, (got - want).abs().max())


def test_float32_decode_within_tolerance() -> None:
    m = TorchDecoder(CASES["qwen2 bias, tied"], CPU, seed=3)  # float32 on CPU by default
    assert m.dtype == torch.float32
    tokens = torch.randint(0, m.cfg.vocab_size, (2, 9))
    m.alloc_cache(2, 9)
    m.prefill(tokens[:, :8])
    ref = TorchDecoder(CASES["qwen2 bias, tied"], CPU, seed=3)
    ref_logits = naive_logits(ref, tokens)
    assert torch.allclose(m.decode(tokens[:, 8], 8), ref_logits, atol=1e-4, rtol=1e-4)


def test_weight_bytes_match_the_shape_estimate() -> None:
    for cfg in CASES.values():
        m = TorchDecoder(cfg, CPU, dtype=torch.float32)
        assert m.weight_bytes() == 4 * shapes.weight_elements(cfg)


def test_moe_and_mla_models_are_refused() -> None:
    moe = tiny_cfg(
        name="mixtral-ish", moe=MoEConfig(num_experts=8, experts_per_token=2, expert_intermediate_size=32)
    )
    with pytest.raises(JalapenoError, match="measure supports dense GQA models; got mixtral-ish"):
        TorchDecoder(moe, CPU)


class FakeNvml:
    """An energy counter at a constant ``watts`` that ticks every 50 ms, as NVML's may."""

    def __init__(self, watts: float) -> None:
        self.watts, self.t0 = watts, time.perf_counter()

    def energy_j(self) -> float:
        ticks = int((time.perf_counter() - self.t0) / 0.05)
        return self.watts * ticks * 0.05


def test_sustained_energy_reads_the_counter_around_back_to_back_steps() -> None:
    calls = []
    e = sustained_energy(
        lambda: calls.append(time.sleep(0.01)),
        CPU,
        FakeNvml(200.0),
        step_s=0.01,
        energy_s=0.3,
        tokens_per_call=4,
    )
    assert e["energy_steps"] == len(calls) == 30 and e["energy_tokens"] == 120
    assert e["energy_s"] >= 0.3 and e["avg_W"] == pytest.approx(200.0, rel=0.2)
    assert e["J_per_token"] == pytest.approx(e["joules"] / 120)


def test_no_energy_counter_gives_nulls() -> None:
    e = sustained_energy(lambda: None, CPU, _ctx().nvml, step_s=0.01, energy_s=1.0, tokens_per_call=1)
    assert set(e.values()) == {None}


# ---- the runner: record, budget, isolation ----


def _ctx() -> Ctx:
    class NoNvml:
        def energy_j(self) -> None:
            return None

    return Ctx(device=CPU, grid=QUICK, nvml=NoNvml(), energy_s=1.0)


def test_each_point_is_isolated_and_written_as_it_goes(tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    rec = Record(out, {"name": "cpu"}, "x", None, t0=time.perf_counter())
    seen_on_disk = []

    def boom() -> tuple[list, str]:
        raise RuntimeError("CUDA out of memory\nmore")

    def check_file() -> tuple[list, str]:
        seen_on_disk.append(json.loads(out.read_text()))
        return [{"op": "x", "T": 1, "hidden": 1, "s": 1.0}], "ok"

    def skip() -> tuple[list, str]:
        raise Skip("too big")

    keys = {"model": "m", "phase": "decode", "batch": 4, "context": 8}
    jobs = [
        Job("d", "steps", boom, error_row=keys),
        Job("s", "gemm", skip),
        Job("c", "elementwise", check_file),
    ]
    lines: list[str] = []
    run_jobs(jobs, rec, _ctx(), None, lines.append)
    data = json.loads(out.read_text())
    assert data["steps"] == [{**keys, "error": "RuntimeError: CUDA out of memory"}]
    assert data["skipped"] == [{"what": "s", "why": "too big"}]
    assert len(data["elementwise"]) == 1
    assert seen_on_disk[0]["steps"][0]["error"].startswith("RuntimeError")  # written before the next point
    assert len(lines) == 3 and "ERROR" in lines[0]
    assert not list(tmp_path.glob("*.tmp"))


def test_budget_stops_new_points_but_teardown_runs(tmp_path: Path) -> None:
    rec = Record(tmp_path / "m.json", {}, "x", None, t0=time.perf_counter() - 10)
    ran: list[str] = []

    def job(name: str, always: bool = False) -> Job:
        return Job(name, "copy", lambda: (ran.append(name) or [], "ok"), always=always)

    lines: list[str] = []
    run_jobs([job("a"), job("b"), job("free", always=True)], rec, _ctx(), 5.0, lines.append)
    assert ran == ["free"]
    assert [s["what"] for s in rec.data["skipped"]] == ["a", "b"]
    assert "budget of 5 s spent: 2 jobs not started" in lines[-1]


# ---- the command, end to end ----


@pytest.fixture(scope="module")
def quick_all_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    """One quick CPU sweep with --json: (the --out record, the printed document, the --out path)."""
    out = tmp_path_factory.mktemp("measure") / "quick.json"
    r = run("measure", "all", "--out", str(out), "--quick", "--device", "cpu", "--json")
    assert r.code == 0, r.err[-2000:]
    return json.loads(out.read_text()), json.loads(r.out), out


@pytest.fixture(scope="module")
def quick_all(quick_all_run: tuple[dict, dict, Path]) -> dict:
    return quick_all_run[0]


def test_quick_all_json_summarises_the_file(quick_all_run: tuple[dict, dict, Path]) -> None:
    """`measure all --json`: one document on stdout (progress went to stderr), valid against its schema, whose
    counts are the file's."""
    rec, doc, out = quick_all_run
    jsonschema.validate(doc, schemas.load(doc["schema"]))
    assert doc["schema"] == "jalapeno.measure/2" and doc["what"] == "all" and doc["file"] == str(out)
    assert doc["device"] == rec["device"] and doc["torch"] == torch.__version__ and doc["quick"] is True
    assert doc["models"] == list(shapes.DEFAULT_MODELS) and doc["idle_power_w"] is None
    by = {s: len(rec[s]) for s in ("copy", "gemm", "attention", "elementwise", "steps")}
    assert doc["points_by_section"] == by and doc["points"] == sum(by.values()) > 0
    assert doc["skipped"] == len(rec["skipped"])
    assert doc["failed_points"] == sum("error" in row for s in by for row in rec[s])


def test_quick_all_writes_the_schema(quick_all: dict) -> None:
    d = quick_all
    assert set(d) == TOP_KEYS
    jsonschema.validate(d, schemas.file_schema("measure"))  # the format docs/json.md publishes
    assert d["schema"] == 1 and d["torch"] == torch.__version__ and d["idle_power_W"] is None
    assert set(d["device"]) == {"name", "sms", "mem_gib", "l2_mb", "power_limit_w", "driver", "cuda"}
    assert set(d["copy"][0]) == {"bytes", "s", "GBps_read_plus_write"}
    assert {"M", "N", "K", "dtype", "s", "s_p90"} <= set(d["gemm"][0])
    assert {r["phase"] for r in d["attention"]} == {"decode", "prefill"}
    assert {r["op"] for r in d["elementwise"]} == {"rms_norm", "silu_mul"}
    models = {r["model"] for r in d["steps"]}
    assert models == {f"{n}-tiny" for n in shapes.DEFAULT_MODELS}
    for r in d["steps"]:
        assert "error" not in r, r
        assert set(r) >= STEP_KEYS
        assert ("context" in r) == (r["phase"] == "decode") and ("prompt" in r) == (r["phase"] == "prefill")
        assert r["cuda_graph"] is False and r["joules"] is None and r["J_per_token"] is None
        assert r["s"] > 0 and r["s_p90"] >= r["s"]
        tokens = r["batch"] if r["phase"] == "decode" else r["prompt"]
        assert r["tokens_per_s"] == pytest.approx(tokens / r["s"])
    assert d["wall_s"] > 0


def test_quick_model_order_puts_7b_first(quick_all: dict) -> None:
    order = list(dict.fromkeys(r["model"] for r in quick_all["steps"]))
    assert order == [
        f"{n}-tiny" for n in ("qwen2.5-coder-7b", "llama-3.1-8b", "qwen2.5-coder-32b", "qwen2.5-coder-1.5b")
    ]


def test_zero_budget_runs_nothing_and_still_writes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "b.json"
    assert (
        main(
            [
                "measure",
                "model",
                "--out",
                str(out),
                "--quick",
                "--device",
                "cpu",
                "--budget-s",
                "0",
                "--models",
                "llama-3.1-8b",
            ]
        )
        == 0
    )
    d = json.loads(out.read_text())
    assert d["steps"] == [] and d["skipped"] and all("budget" in s["why"] for s in d["skipped"])
    assert "jobs not started" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["measure", "ops", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --device: --device cuda but torch sees no CUDA GPU")
    assert err.count("\n") == 1
    assert not (tmp_path / "x.json").exists()


def test_unknown_model_is_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(
        [
            "measure",
            "model",
            "--out",
            str(tmp_path / "x.json"),
            "--device",
            "cpu",
            "--quick",
            "--models",
            "no-such-model-xyz",
        ]
    )
    assert code == 2
    assert capsys.readouterr().err.startswith("error:")


def test_no_torch_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from jalapeno.measure import device

    monkeypatch.setattr(device, "torch", None)
    assert main(["measure", "all", "--out", str(tmp_path / "x.json"), "--device", "cpu", "--quick"]) == 2
    assert "pip install 'jalapeno[measure]'" in capsys.readouterr().err
