"""Jalapeño: an open inference-processor co-design stack.

Layers follow the data flow in DESIGN.md: hardware and models are data; graph turns a model and a
batch into operators; cost prices a graph on a chip; serving replays traffic; explore searches chips.
"""

from jalapeno.errors import JalapenoError

__all__ = ["JalapenoError", "__version__"]
__version__ = "0.1.0"
