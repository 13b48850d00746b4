"""Keeps the published docs in step with the code (issue 15): generated blocks re-run from the command
their marker names, and a ledger of every figure on every page.

The top layer: it runs ``jalapeno`` commands (``jalapeno.cli``) to regenerate a block, so it may import
anything; nothing in the package imports it (tests and ``scripts/regen_snapshots.py`` do).
"""
