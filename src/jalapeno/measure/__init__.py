"""Measurement on a real GPU: operator sweeps and whole-model steps, for calibration and validation.

Optional: needs the ``measure`` extra (torch, nvidia-ml-py). Nothing here imports torch at package import
time; ``jalapeno.measure.runner.run_measure`` is the entry point used by ``jalapeno measure``.

Modules:
- ``shapes``: grids, model resolution and memory estimates (no torch).
- ``device``: device facts, NVML power/energy, timing helpers.
- ``torch_model``: a minimal dense GQA decoder in plain torch (static KV cache, SDPA).
- ``ops``: operator sweeps (copy, GEMM, attention, elementwise).
- ``steps``: whole-model decode (CUDA graph) and prefill (eager) steps with energy.
- ``runner``: job ordering, the wall budget, and the JSON record written after every point.
- ``serve_engine``, ``serve_model``, ``serve_replay``: ``measure serve``, a trace slice replayed through a
  continuous-batching engine (each step row says where its wall time went).
- ``serve_steps``: ``measure engine``, that engine's decode and prefill steps taken apart (jobs
  ``serve-decode`` and ``serve-prefill-host``).

Layer (docs/extending.md#layers): above studies, below commands (it uses only models, workload and errors,
and torch lazily). Nothing but commands may import it, so the core never needs torch.
"""

from __future__ import annotations

__all__: list[str] = []
