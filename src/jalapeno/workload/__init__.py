"""Workload: request traces (bundled and loaded from files) and synthetic traffic, as ``Trace`` values.

``load_trace("azure-code")`` loads a bundled trace (``jalapeno traces`` lists them) or any Azure,
BurstGPT, Mooncake or TraceLab file; ``poisson``, ``gamma`` and ``sessions`` generate seeded traffic;
``rescale`` and ``slice_trace`` reshape a trace. See docs/workload.md.

Layer (docs/extending.md#layers): the bottom of the domain, beside hardware and models and independent of
both. May import only the bottom modules (errors, dtypes, jsonio, tableio); knows nothing of chips or serving.
"""

from jalapeno.workload.bundled import BUNDLED, BundledTrace, bundled_names
from jalapeno.workload.loaders import (
    detect_format,
    load_azure,
    load_burstgpt,
    load_mooncake,
    load_trace,
    load_tracelab,
)
from jalapeno.workload.request import Request, Trace, TraceStats, chain_blocks
from jalapeno.workload.rows import Window
from jalapeno.workload.synthetic import Constant, Empirical, IntDist, LogNormal, gamma, poisson, sessions
from jalapeno.workload.transforms import rescale, slice_trace

__all__ = [
    "BUNDLED",
    "BundledTrace",
    "Constant",
    "Empirical",
    "IntDist",
    "LogNormal",
    "Request",
    "Trace",
    "TraceStats",
    "Window",
    "bundled_names",
    "chain_blocks",
    "detect_format",
    "gamma",
    "load_azure",
    "load_burstgpt",
    "load_mooncake",
    "load_trace",
    "load_tracelab",
    "poisson",
    "rescale",
    "sessions",
    "slice_trace",
]
