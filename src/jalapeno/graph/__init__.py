"""Graph: a model and a batch (prefill, decode or mixed) as operators with shapes, FLOPs and bytes.

Owns the op type (``ops``), the builder (``builder``), batches (``batch``), precisions and attention
counts. May import models, dtypes and errors; knows nothing of chips, timing or serving.
"""
