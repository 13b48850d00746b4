"""Where a replay step's wall time goes (the step rows' timing keys) and ``jalapeno measure engine`` (jobs
``serve-decode`` and ``serve-prefill-host``) on a CPU with a tiny model. Skipped without torch."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from jalapeno.cli import main
from jalapeno.measure.jobs import Ctx, Job
from jalapeno.measure.runner import Record, plan, run_jobs
from jalapeno.measure.serve_engine import (
    HOST_TIMING_KEYS,
    TIMING_KEYS,
    Engine,
    EngineConfig,
    ReplayClock,
    step_timing,
)
from jalapeno.measure.serve_model import DecodeGraphs, SlotModel, TorchBackend
from jalapeno.measure.serve_steps import (
    DECODE_JOB,
    DECODE_KEYS,
    DECODE_MODES,
    PREFILL_JOB,
    PREFILL_KEYS,
    PREFILL_MODES,
    SECTION,
    count_ops,
    serve_jobs,
)
from jalapeno.measure.shapes import QUICK, resolve, tiny
from jalapeno.measure.torch_model import TorchDecoder
from jalapeno.workload.request import Request

CPU = torch.device("cpu")
TOL_S = 1e-6  # the step's clock and the backend's timers are the same perf_counter


class NoNvml:
    def energy_j(self) -> None:
        return None


def _ctx(**grid: Any) -> Ctx:
    g = replace(
        QUICK,
        serve_bucket=(2,),
        serve_length=(64,),
        serve_prompt=(16,),
        serve_iters=2,
        serve_prefill_iters=2,
        serve_idle_s=0.001,
        warmup=1,
        **grid,
    )
    return Ctx(device=CPU, grid=g, nvml=NoNvml(), energy_s=0.0)


# ---- the replay's step rows ----


def _replay(spec: list[tuple[float, int, int]], max_num_seqs: int = 4) -> Engine:
    m = TorchDecoder(tiny(resolve("llama-3.1-8b")), CPU, seed=0)
    sm = SlotModel(m, slots=max_num_seqs, max_len=512, masked=False)
    backend = TorchBackend(sm, DecodeGraphs(sm, enabled=False))
    reqs = [Request(i, a, p, o) for i, (a, p, o) in enumerate(spec)]
    e = Engine(backend, reqs, EngineConfig(max_num_seqs=max_num_seqs, max_len=512), clock=ReplayClock())
    with torch.inference_mode():
        e.run()
    return e


def test_step_rows_say_where_the_wall_time_went() -> None:
    e = _replay([(0.0, 9, 3), (0.0, 40, 4), (0.0, 3, 1), (0.005, 300, 3), (0.006, 7, 5)])
    assert e.incomplete() == []
    kinds = {s["kind"] for s in e.steps}
    assert kinds == {"prefill", "decode"}
    for s in e.steps:
        assert set(TIMING_KEYS) <= set(s), s
        wall = s["end_s"] - s["start_s"]
        parts = [s[k] for k in HOST_TIMING_KEYS]
        assert all(isinstance(p, float) and p >= 0 for p in parts), s
        assert sum(parts) <= wall + TOL_S, (s, sum(parts), wall)
        assert s["launch_s"] > 0 and s["host_prep_s"] > 0  # real work on the CPU
        assert s["device_s"] is None  # no device clock on a CPU
    for s in e.steps:  # the existing keys keep their meaning
        if s["kind"] == "decode":
            assert {"batch", "bucket", "L", "graph", "waiting", "running", "compact_s"} <= set(s)
            assert s["graph"] is False and s["compact_s"] >= 0
        else:
            assert {"request_id", "tokens", "waiting", "running"} <= set(s)


class SilentBackend:
    """A backend that reports no timing: the rows still carry the keys (zeros, ``device_s`` null)."""

    def prefill(self, slot: int, request_id: int, prompt_tokens: int) -> None:
        pass

    def prepare(self, ctx: list[int], bucket: int, length: int) -> None:
        pass

    def decode(self, ctx: list[int], bucket: int, length: int) -> bool:
        return False

    def move(self, src: int, dst: int, length: int) -> None:
        pass

    def tokens(self, batch: int) -> list[int]:
        return [0] * batch

    def sync(self) -> None:
        pass


def test_a_backend_without_timing_gives_zeros() -> None:
    assert step_timing(SilentBackend()) == {
        "host_prep_s": 0.0,
        "launch_s": 0.0,
        "accept_s": 0.0,
        "sync_s": 0.0,
        "device_s": None,
    }
    e = Engine(SilentBackend(), [Request(0, 0.0, 5, 3), Request(1, 0.0, 4, 2)], EngineConfig(max_num_seqs=2))
    e.run()
    assert e.steps and all(s[k] == 0.0 for s in e.steps for k in HOST_TIMING_KEYS)
    assert all(s["device_s"] is None for s in e.steps)


def test_torch_backend_times_each_call_without_changing_its_result() -> None:
    cfg = tiny(resolve("llama-3.1-8b"))
    sm = SlotModel(TorchDecoder(cfg, CPU, seed=0), slots=2, max_len=128)
    b = TorchBackend(sm, DecodeGraphs(sm, enabled=False))
    ref = SlotModel(TorchDecoder(cfg, CPU, seed=0), slots=2, max_len=128)
    from jalapeno.measure.serve_model import prompt_ids

    with torch.inference_mode():
        t0 = time.perf_counter()
        b.prefill(1, 7, 20)
        wall = time.perf_counter() - t0
        got = b.timing()
        assert set(got) == set(TIMING_KEYS) and got["device_s"] is None
        assert sum(got[k] for k in HOST_TIMING_KEYS) <= wall
        ref.prefill(1, prompt_ids(7, 20, cfg.vocab_size))
        assert b.tokens(2)[1] == int(ref.tok[1])
        b.decode([20, 0], 2, 64)
        ref.set_positions([20, 0], 2)
        ref.decode_step(2, 64)
        ref.accept(2)
        assert b.tokens(2) == [int(t) for t in ref.tok[:2]]
        assert all(b.timing()[k] >= 0 for k in HOST_TIMING_KEYS)


# ---- jalapeno measure engine ----


@pytest.fixture(scope="module")
def engine_rows(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    ctx = _ctx()
    out = tmp_path_factory.mktemp("engine") / "engine.json"
    rec = Record(out, {}, "x", None, t0=time.perf_counter(), extra_sections=(SECTION,))
    lines: list[str] = []
    jobs = serve_jobs("llama-3.1-8b", ctx)
    with torch.inference_mode():
        run_jobs(jobs, rec, ctx, None, lines.append)
    data = json.loads(out.read_text())
    return data[SECTION], data["skipped"], lines


def test_engine_jobs_write_self_describing_rows(engine_rows: Any) -> None:
    rows, skipped, lines = engine_rows
    assert skipped == [] and len(lines) == 4  # load, one decode point, one prefill length, free
    dec = [r for r in rows if r["job"] == DECODE_JOB]
    pre = [r for r in rows if r["job"] == PREFILL_JOB]
    assert [r["mode"] for r in dec] == list(DECODE_MODES)
    assert [r["mode"] for r in pre] == list(PREFILL_MODES)
    for r in rows:
        assert "error" not in r, r
        assert r["model"] == "llama-3.1-8b-tiny"
        assert r["s"] > 0 and r["s_p90"] >= r["s"] and r["timer"] == "perf_counter" and r["iters"] == 2
        assert r["device_s"] is None
    for r in dec:
        assert set(r) == set(DECODE_KEYS)
        assert (r["bucket"], r["batch"], r["L"], r["layers"], r["graph"]) == (2, 2, 64, 2, False)
        timed = r["mode"] == "engine_step"
        for k in HOST_TIMING_KEYS:
            assert (r[k] is not None) == timed
            if timed:
                assert r[k] >= 0
    for r in pre:
        assert set(r) == set(PREFILL_KEYS) and r["prompt"] == 16 and r["aten_ops"] > 0
        assert r["idle_s"] == (0.001 if r["mode"].startswith("after_") else 0.0)
        assert r["launch_s"] > 0
        for k in HOST_TIMING_KEYS:
            assert (r[k] is not None) == (r["mode"] != "sweep" or k == "launch_s")
            assert r[k] is None or r[k] >= 0


def test_engine_is_selected_by_what_and_not_part_of_all() -> None:
    ctx = _ctx()
    engine = [j.what for j in plan("engine", ctx, ["llama-3.1-8b"])]
    assert engine[0].startswith("load") and engine[-1].startswith("free")
    assert [w.split()[0] for w in engine[1:-1]] == [DECODE_JOB, PREFILL_JOB]
    assert all(j.section == SECTION for j in plan("engine", ctx, ["llama-3.1-8b"]) if j.section)
    assert not any(j.what.startswith("serve-") for j in plan("all", ctx, ["llama-3.1-8b"]))


def test_a_failed_engine_point_is_an_error_row_in_its_section(tmp_path: Path) -> None:
    rec = Record(tmp_path / "e.json", {}, "x", None, t0=time.perf_counter(), extra_sections=(SECTION,))
    keys = {"job": DECODE_JOB, "model": "m", "bucket": 4, "L": 1024}

    def boom() -> tuple[list, str]:
        raise RuntimeError("CUDA out of memory")

    run_jobs([Job("d", SECTION, boom, error_row=keys)], rec, _ctx(), None, lambda _: None)
    data = json.loads((tmp_path / "e.json").read_text())
    assert data[SECTION] == [{**keys, "error": "RuntimeError: CUDA out of memory"}] and data["steps"] == []


def test_count_ops_counts_non_view_aten_ops() -> None:
    x = torch.ones(4, 4)
    assert count_ops(lambda: (x @ x).t().relu()) == 2  # mm, relu; the transpose is a view


def test_engine_command_selects_the_jobs(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "engine.json"
    assert (
        main(["measure", "engine", "--out", str(out), "--quick", "--device", "cpu", "--budget-s", "0"]) == 0
    )
    d = json.loads(out.read_text())
    assert d[SECTION] == [] and d["steps"] == []
    names = [s["what"] for s in d["skipped"]]
    assert any(n.startswith(f"{DECODE_JOB} llama-3.1-8b-tiny") for n in names)
    assert any(n.startswith(f"{PREFILL_JOB} llama-3.1-8b-tiny") for n in names)
    assert "0 engine" in capsys.readouterr().out
