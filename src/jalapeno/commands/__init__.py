"""One module a CLI command; each exposes a click command named ``command``.

Layer (docs/extending.md#layers): the top below ``cli``, which loads these modules by name. May import every
layer; no layer imports commands.
"""
