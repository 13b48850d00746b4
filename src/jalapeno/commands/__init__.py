"""One module a CLI command; each exposes a click command named ``command``."""
