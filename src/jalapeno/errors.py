"""One error type for bad input, so the CLI can print one clear line and exit 2."""

from __future__ import annotations


class JalapenoError(Exception):
    """Bad user input: the message names the field (or name) and what would be valid.

    Raise it at the boundary (config parsing, YAML loading, CLI arguments); the CLI prints
    ``error: <message>`` and exits with code 2, with no traceback.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = None if field is None else _one_line(field)
        super().__init__(_one_line(f"{field}: {message}" if field else message))


def _one_line(text: str) -> str:
    """Line breaks inside user-supplied names (a YAML key, a file name) written as ``\\n``: one error line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")
