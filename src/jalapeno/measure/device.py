"""The device under test: facts, NVML power and energy, and timing (CUDA events or perf_counter).

Every NVML call is guarded: without ``nvidia-ml-py`` or on a CPU, energy and power read as ``None``.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jalapeno.errors import JalapenoError

try:
    import torch
except ImportError:  # the measure extra is absent; require_torch() says so
    torch = None

INSTALL_HINT = "pip install 'jalapeno[measure]'"


def require_torch() -> Any:
    if torch is None:
        raise JalapenoError(f"measure needs torch; install it with: {INSTALL_HINT}")
    return torch


def pick_device(name: str) -> Any:
    """``torch.device`` for ``cuda`` or ``cpu``; one clear error when CUDA is asked for and absent."""
    t = require_torch()
    if name == "cuda":
        if not t.cuda.is_available():
            raise JalapenoError(
                "--device cuda but torch sees no CUDA GPU "
                f"(torch {t.__version__}); use --device cpu for a dry run",
                field="--device",
            )
        return t.device("cuda", t.cuda.current_device())
    if name == "cpu":
        return t.device("cpu")
    raise JalapenoError(f"unknown device {name!r}; valid: cuda, cpu", field="--device")


class Nvml:
    """Power (W) and the total-energy counter (J) of one GPU; every reading is ``None`` when unavailable."""

    def __init__(self, device: Any) -> None:
        self.handle: Any = None
        self.nv: Any = None
        if device.type != "cuda":
            return
        try:
            import pynvml as nv  # type: ignore[import-not-found,unused-ignore]

            nv.nvmlInit()
            self.nv = nv
            self.handle = self._handle(nv, device)
        except Exception:
            self.handle = None

    @staticmethod
    def _handle(nv: Any, device: Any) -> Any:
        try:  # match by UUID so CUDA_VISIBLE_DEVICES cannot point NVML at another GPU
            uuid = str(torch.cuda.get_device_properties(device).uuid)
            return nv.nvmlDeviceGetHandleByUUID(uuid if uuid.startswith("GPU-") else f"GPU-{uuid}")
        except Exception:
            return nv.nvmlDeviceGetHandleByIndex(device.index or 0)

    def _call(self, fn: str, scale: float) -> float | None:
        if self.handle is None:
            return None
        try:
            return float(getattr(self.nv, fn)(self.handle)) * scale
        except Exception:
            return None

    def power_w(self) -> float | None:
        return self._call("nvmlDeviceGetPowerUsage", 1e-3)

    def energy_j(self) -> float | None:
        return self._call("nvmlDeviceGetTotalEnergyConsumption", 1e-3)

    def power_limit_w(self) -> float | None:
        return self._call("nvmlDeviceGetEnforcedPowerLimit", 1e-3)

    def driver(self) -> str | None:
        if self.nv is None:
            return None
        try:
            v = self.nv.nvmlSystemGetDriverVersion()
            return v.decode() if isinstance(v, bytes) else str(v)
        except Exception:
            return None

    def idle_power_w(self, samples: int = 5, gap_s: float = 0.1) -> float | None:
        """Median of a few power readings, taken before any work."""
        got = []
        for _ in range(samples):
            p = self.power_w()
            if p is None:
                return None
            got.append(p)
            time.sleep(gap_s)
        return float(np.median(got))


def device_info(device: Any, nvml: Nvml) -> dict[str, Any]:
    if device.type != "cuda":
        return {
            "name": f"cpu ({platform.processor() or platform.machine()})",
            "sms": None,
            "mem_gib": None,
            "l2_mb": None,
            "power_limit_w": None,
            "driver": None,
            "cuda": None,
        }
    p = torch.cuda.get_device_properties(device)
    l2 = getattr(p, "L2_cache_size", None)
    return {
        "name": p.name,
        "sms": p.multi_processor_count,
        "mem_gib": p.total_memory / 2**30,
        "l2_mb": l2 / 1e6 if l2 else None,
        "power_limit_w": nvml.power_limit_w(),
        "driver": nvml.driver(),
        "cuda": torch.version.cuda,
    }


def free_bytes(device: Any) -> int | None:
    if device.type != "cuda":
        return None
    return int(torch.cuda.mem_get_info(device)[0])


def sync(device: Any) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def release(device: Any) -> None:
    """Hand cached blocks back so the next point sees true free memory."""
    import contextlib
    import gc

    gc.collect()
    if device.type == "cuda":
        with contextlib.suppress(Exception):  # a broken context fails the next point, which records it
            torch.cuda.synchronize(device)
            torch.cuda.empty_cache()


@dataclass(frozen=True)
class Timing:
    s: float  # median seconds per call
    s_p90: float


def _once(fn: Callable[[], Any], device: Any) -> float:
    if device.type == "cuda":
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        return a.elapsed_time(b) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def time_calls(fn: Callable[[], Any], device: Any, *, warmup: int, iters: int, target_s: float) -> Timing:
    """Warm up, then time up to ``iters`` calls: fewer when ``target_s`` would be exceeded, but at least 5
    (3 for calls over 0.2 s, which also get a single warm-up)."""
    fn()
    sync(device)
    first = _once(fn, device)
    for _ in range(warmup - 1 if first < 0.2 else 0):
        fn()
    floor = 5 if first < 0.2 else 3
    n = max(min(iters, floor), min(iters, math.ceil(target_s / max(first, 1e-9))))
    times = time_each(fn, device, n)
    return Timing(float(np.median(times)), float(np.percentile(times, 90)))


def time_each(fn: Callable[[], Any], device: Any, n: int) -> list[float]:
    """Seconds of each of ``n`` calls issued back to back: a CUDA-event pair around each on a GPU (the
    host runs ahead; each pair times the device), ``perf_counter`` on a CPU."""
    if device.type != "cuda":
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return times
    evs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(n)]
    for a, b in evs:
        a.record()
        fn()
        b.record()
    evs[-1][1].synchronize()
    return [a.elapsed_time(b) / 1e3 for a, b in evs]


def capture_graph(body: Callable[[], Any], device: Any, *, warmups: int = 2, pool: Any = None) -> Any:
    """``body`` captured in a CUDA graph: ``warmups`` runs on a side stream first (allocations and kernel
    choices settle outside the capture), then one captured run; synchronized before it returns."""
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(warmups):
            body()
    torch.cuda.current_stream(device).wait_stream(side)
    torch.cuda.synchronize(device)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g, pool=pool):
        body()
    torch.cuda.synchronize(device)
    return g


def _energy_tick(nvml: Nvml, timeout_s: float = 0.25) -> tuple[float | None, float]:
    """(joules, time) at the next update of the energy counter, which may tick only every ~100 ms:
    aligning both ends of a window to ticks removes the quantization error of a 1 s window."""
    e0 = nvml.energy_j()
    t_end = time.perf_counter() + timeout_s
    while True:
        e, t = nvml.energy_j(), time.perf_counter()
        if e != e0 or e is None or t > t_end:
            return e, t


def sustained_energy(
    fn: Callable[[], Any], device: Any, nvml: Nvml, step_s: float, energy_s: float, tokens_per_call: int
) -> dict[str, Any]:
    """Energy of back-to-back calls for at least ``energy_s`` seconds, one synchronize at the end."""
    none = {
        "joules": None,
        "energy_s": None,
        "avg_W": None,
        "J_per_token": None,
        "energy_steps": None,
        "energy_tokens": None,
    }
    if energy_s <= 0 or nvml.energy_j() is None:
        return none
    n = max(1, math.ceil(energy_s / max(step_s, 1e-9)))
    sync(device)
    e0, t0 = _energy_tick(nvml)
    for _ in range(n):
        fn()
    sync(device)
    e1, t1 = _energy_tick(nvml)
    if e0 is None or e1 is None:
        return none
    joules, secs, tokens = e1 - e0, t1 - t0, n * tokens_per_call
    return {
        "joules": joules,
        "energy_s": secs,
        "avg_W": joules / secs,
        "J_per_token": joules / tokens,
        "energy_steps": n,
        "energy_tokens": tokens,
    }
