"""Routers: which replica of a pool gets an arriving request (``base.py``: the protocol and the registry).

One module a router; each registers itself with ``@ROUTERS.register(name, summary)`` and is found by
the registry's scan of this package.
"""
