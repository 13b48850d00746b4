"""Reading and writing user files safely: JSON that is too big, too deep or not JSON, and output paths that
cannot be written, become one ``JalapenoError`` naming the option, before any work starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jalapeno.errors import JalapenoError

MAX_JSON_BYTES = 256 * 2**20  # larger than any measurement or config file; /dev/zero and friends stop here


def read_json(
    path: str | Path, field: str, *, expect: type | None = None, max_bytes: int = MAX_JSON_BYTES
) -> Any:
    """The parsed JSON of a regular file; ``expect`` (dict or list) checks the top-level type."""
    p = Path(path)
    try:
        if not p.is_file():
            raise JalapenoError(
                f"{str(p)!r} is not a regular file" if p.exists() else f"no such file {str(p)!r}", field=field
            )
        if p.stat().st_size > max_bytes:
            raise JalapenoError(f"{str(p)!r} is over {max_bytes // 2**20} MiB", field=field)
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise JalapenoError(f"cannot read {str(p)!r}: {e}", field=field) from None
    except (ValueError, RecursionError) as e:  # JSONDecodeError, huge integers, deep nesting
        raise JalapenoError(f"{str(p)!r} is not valid JSON: {str(e)[:200]}", field=field) from None
    if expect is not None and not isinstance(data, expect):
        kind = "object" if expect is dict else "array"
        raise JalapenoError(f"{str(p)!r} must hold a JSON {kind}, got {type(data).__name__}", field=field)
    return data


def check_writable(field: str, path: str | Path) -> None:
    """Refuse an output path that cannot be written (missing directory, a directory, read-only) now, not
    after the work: open it for append, and remove it again if it did not exist."""
    p = Path(path)
    if p.is_dir():
        raise JalapenoError(f"{str(p)!r} is a directory; give a file path", field=field)
    if not p.parent.is_dir():
        raise JalapenoError(f"directory {str(p.parent)!r} does not exist", field=field)
    existed = p.exists()
    try:
        with open(p, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise JalapenoError(f"cannot write {str(p)!r}: {e.strerror}", field=field) from None
    if not existed:
        p.unlink(missing_ok=True)
