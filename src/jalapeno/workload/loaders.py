"""Trace loaders: one function a file format, and ``load_trace`` that picks one.

| format | columns / fields used | arrival |
|---|---|---|
| Azure 2023/24 CSV | ``TIMESTAMP,ContextTokens,GeneratedTokens`` | ISO timestamp (fraction digits, offset) |
| BurstGPT CSV | ``Timestamp,Request tokens,Response tokens`` (+ ``Session ID``) | seconds |
| Mooncake JSONL | ``timestamp,input_length,output_length,hash_ids`` | milliseconds |
| TraceLab rounds JSONL | see ``jalapeno.workload.tracelab`` | ISO timestamps of timing events |
| plain CSV (``traces export``) | ``arrival_s,prompt_tokens,output_tokens`` (+ ``hash_ids``) | seconds |
| Vidur CSV | ``arrived_at,num_prefill_tokens,num_decode_tokens`` (Vidur's ``Request`` fields) | seconds |

A plain CSV's ``hash_ids`` are space-separated. Every loader measures arrivals from the earliest request,
sorts by arrival (ties keep file order), and numbers requests by their data row in the file (0-based). A bad
row raises ``JalapenoError`` naming ``file:line: column`` and what was expected; an empty file raises too.
Nothing is downloaded.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from jalapeno.errors import JalapenoError
from jalapeno.workload.bundled import BundledTrace, bundled_names, find_bundled
from jalapeno.workload.request import Trace
from jalapeno.workload.rows import (
    Rows,
    Window,
    build_trace,
    json_count,
    row_error,
    time_to_ns,
    token_count,
)
from jalapeno.workload.timestamps import FORMAT_HINT, NS_PER_S, parse_timestamp_ns
from jalapeno.workload.tracelab import parse_tracelab

AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
PLAIN_COLUMNS = ("arrival_s", "prompt_tokens", "output_tokens")
VIDUR_COLUMNS = ("arrived_at", "num_prefill_tokens", "num_decode_tokens")
BURSTGPT_COLUMNS = ("Timestamp", "Request tokens", "Response tokens")


def _open_text(path: Path) -> TextIO:
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as e:
        raise JalapenoError(f"{path}: cannot read: {e.strerror}") from None


def _decode_guard(path: Path, parse: Callable[[Any], Rows]) -> Rows:
    with _open_text(path) as f:
        try:
            return parse(f)
        except UnicodeDecodeError:
            raise JalapenoError(f"{path.name}: not UTF-8 text; expected a CSV or JSONL trace") from None
        except csv.Error as e:
            raise JalapenoError(
                f"{path.name}: malformed CSV ({e}); expected plain comma-separated rows"
            ) from None


def _columns(
    header: list[str], wanted: tuple[str, ...], file: str, line: int, optional: tuple[str, ...] = ()
) -> list[int]:
    names = [h.strip().lower() for h in header]
    found = []
    for column in wanted + optional:
        if column.lower() in names:
            found.append(names.index(column.lower()))
        elif column in wanted:
            raise JalapenoError(
                f"{file}:{line}: header: missing column {column!r}; expected {','.join(wanted)}, "
                f"got {','.join(header)!r}"
            )
        else:
            found.append(-1)
    return found


def _csv_body(
    f: Any, file: str, wanted: tuple[str, ...], optional: tuple[str, ...] = ()
) -> tuple[Iterator[tuple[int, list[str]]], list[int]]:
    """(line number, row) pairs after the header, skipping blank lines, and the wanted columns' indices."""
    reader = csv.reader(f)
    header = next((row for row in reader if row and row != [""]), None)
    if header is None:
        raise JalapenoError(f"{file}: empty file; expected a header line {','.join(wanted)} and data rows")
    columns = _columns(header, wanted, file, reader.line_num, optional)

    def body() -> Iterator[tuple[int, list[str]]]:
        for row in reader:
            if not row or row == [""]:
                continue
            if len(row) != len(header):
                raise row_error(
                    file, reader.line_num, "row", f"{len(header)} columns ({','.join(header)})", ",".join(row)
                )
            yield reader.line_num, row

    return body(), columns


def _parse_azure(f: Any, file: str) -> Rows:
    body, (ti, pi, oi) = _csv_body(f, file, AZURE_COLUMNS)
    rows = Rows(file)
    minutes: dict[str, int] = {}
    times, prompts, outputs = rows.times_ns, rows.prompts, rows.outputs
    for line, row in body:
        try:
            times.append(parse_timestamp_ns(row[ti], minutes))
        except ValueError:
            raise row_error(file, line, "TIMESTAMP", FORMAT_HINT, row[ti]) from None
        prompts.append(token_count(row[pi], file, line, "ContextTokens"))
        outputs.append(token_count(row[oi], file, line, "GeneratedTokens"))
    rows.ids.extend(range(len(times)))
    return rows


def load_azure(
    path: str | Path, *, window: Window | None = None, name: str | None = None, attribution: str = ""
) -> Trace:
    """Azure LLM inference trace CSV, 2023 (one hour) or 2024 (one week): same columns.

    ``TIMESTAMP`` may have any number of fractional digits and an optional ``Z``/``+00:00`` offset.
    """
    path = Path(path)
    rows = _decode_guard(path, lambda f: _parse_azure(f, path.name))
    return build_trace(rows, name or path.stem, str(path), attribution, window or Window())


def _burst_seconds(text: str, file: str, line: int) -> int:
    try:
        value = float(text)
    except ValueError:
        raise row_error(file, line, "Timestamp", "a non-negative number of seconds", text) from None
    return time_to_ns(value, NS_PER_S, file, line, "Timestamp", text)


def _parse_burstgpt(f: Any, file: str, drop_failed: bool) -> Rows:
    body, (ti, pi, oi, si) = _csv_body(f, file, BURSTGPT_COLUMNS, optional=("Session ID",))
    rows = Rows(file, extras=[] if si >= 0 else None)
    for index, (line, row) in enumerate(body):
        time_ns = _burst_seconds(row[ti], file, line)
        prompt = token_count(row[pi], file, line, "Request tokens")
        output = token_count(row[oi], file, line, "Response tokens")
        if drop_failed and output == 0:
            continue
        rows.times_ns.append(time_ns)
        rows.prompts.append(prompt)
        rows.outputs.append(output)
        rows.ids.append(index)
        if rows.extras is not None:
            rows.extras.append({"session_id": row[si].strip() or None})
    return rows


def load_burstgpt(
    path: str | Path,
    *,
    drop_failed: bool = False,
    window: Window | None = None,
    name: str | None = None,
    attribution: str = "",
) -> Trace:
    """BurstGPT CSV (``Timestamp`` in seconds). A ``Session ID`` column, if present, fills ``session_id``.

    ``drop_failed=True`` skips failed requests (``Response tokens == 0``), as BurstGPT's
    ``*_without_fails`` files do; by default every row is kept (a failed request still costs a prefill).
    """
    path = Path(path)
    rows = _decode_guard(path, lambda f: _parse_burstgpt(f, path.name, drop_failed))
    return build_trace(rows, name or path.stem, str(path), attribution, window or Window())


def _seconds(text: str, file: str, line: int, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise row_error(file, line, column, "a non-negative number of seconds", text) from None
    return time_to_ns(value, NS_PER_S, file, line, column, text)


def _block_ids(text: str, file: str, line: int) -> tuple[int, ...]:
    try:
        ids = tuple(int(h) for h in text.split())
    except ValueError:
        ids = (1 << 63,)
    if any(abs(h) >= 1 << 63 for h in ids):
        raise row_error(file, line, "hash_ids", "space-separated integers (prefix-block hashes)", text)
    return ids


def _parse_seconds_csv(f: Any, file: str, wanted: tuple[str, ...], block_tokens: int) -> Rows:
    """The plain and Vidur CSVs: arrival in seconds, prompt and output tokens (+ plain's ``hash_ids``)."""
    body, (ti, pi, oi, hi) = _csv_body(f, file, wanted, optional=("hash_ids",))
    rows = Rows(file, extras=[] if hi >= 0 else None)
    for index, (line, row) in enumerate(body):
        rows.times_ns.append(_seconds(row[ti], file, line, wanted[0]))
        rows.prompts.append(token_count(row[pi], file, line, wanted[1]))
        rows.outputs.append(token_count(row[oi], file, line, wanted[2]))
        rows.ids.append(index)
        if rows.extras is not None:
            rows.extras.append(
                {"block_hashes": _block_ids(row[hi], file, line), "block_tokens": block_tokens}
            )
    return rows


def load_plain_csv(
    path: str | Path,
    *,
    block_tokens: int = 512,
    window: Window | None = None,
    name: str | None = None,
    attribution: str = "",
    vidur: bool = False,
) -> Trace:
    """The plain CSV ``arrival_s,prompt_tokens,output_tokens[,hash_ids]`` (``jalapeno traces export``), or
    with ``vidur=True`` Vidur's ``arrived_at,num_prefill_tokens,num_decode_tokens``. Arrivals are seconds."""
    path = Path(path)
    wanted = VIDUR_COLUMNS if vidur else PLAIN_COLUMNS
    rows = _decode_guard(
        path, lambda f: _parse_seconds_csv(f, path.name, wanted, _block_tokens(block_tokens))
    )
    return build_trace(rows, name or path.stem, str(path), attribution, window or Window())


def json_lines(f: Any, file: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; anything but a JSON object is an error."""
    seen = False
    for line, text in enumerate(f, start=1):
        if not text.strip():
            continue
        seen = True
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            raise JalapenoError(
                f"{file}:{line}: expected one JSON object per line, got {text[:60]!r}"
            ) from None
        if not isinstance(obj, dict):
            raise JalapenoError(f"{file}:{line}: expected a JSON object, got {text[:60]!r}")
        yield line, obj
    if not seen:
        raise JalapenoError(f"{file}: empty file; expected one JSON object (request) per line")


def _hash_ids(obj: dict[str, Any], file: str, line: int) -> tuple[int, ...]:
    value = obj.get("hash_ids", [])
    if not isinstance(value, list) or any(type(h) is not int or abs(h) >= 1 << 63 for h in value):
        raise row_error(file, line, "hash_ids", "a list of integers (prefix-block hashes)", value)
    return tuple(value)


def _parse_mooncake(f: Any, file: str, block_tokens: int) -> Rows:
    rows = Rows(file, extras=[])
    for index, (line, obj) in enumerate(json_lines(f, file)):
        stamp = obj.get("timestamp")
        if type(stamp) not in (int, float):
            raise row_error(file, line, "timestamp", "a non-negative number of milliseconds", stamp)
        assert isinstance(stamp, int | float)
        rows.times_ns.append(time_to_ns(stamp, NS_PER_S // 1000, file, line, "timestamp", stamp))
        rows.prompts.append(json_count(obj, "input_length", file, line))
        rows.outputs.append(json_count(obj, "output_length", file, line))
        rows.ids.append(index)
        rows.extras.append({"block_hashes": _hash_ids(obj, file, line), "block_tokens": block_tokens})  # type: ignore[union-attr]
    return rows


def load_mooncake(
    path: str | Path,
    *,
    block_tokens: int = 512,
    window: Window | None = None,
    name: str | None = None,
    attribution: str = "",
) -> Trace:
    """Mooncake JSONL: ``timestamp`` (ms from start), ``input_length``, ``output_length``, ``hash_ids``.

    ``hash_ids`` are prefix-block hashes of ``block_tokens`` (512 in the Mooncake release) tokens each.
    """
    path = Path(path)
    rows = _decode_guard(path, lambda f: _parse_mooncake(f, path.name, _block_tokens(block_tokens)))
    return build_trace(rows, name or path.stem, str(path), attribution, window or Window())


def load_tracelab(
    path: str | Path,
    *,
    block_tokens: int = 512,
    align_sessions: bool = True,
    window: Window | None = None,
    name: str | None = None,
    attribution: str = "",
) -> Trace:
    """TraceLab rounds JSONL: one LLM call a line; see ``jalapeno.workload.tracelab`` for the mapping."""
    path = Path(path)
    rows = _decode_guard(
        path,
        lambda f: parse_tracelab(
            json_lines(f, path.name), path.name, _block_tokens(block_tokens), align_sessions
        ),
    )
    return build_trace(rows, name or path.stem, str(path), attribution, window or Window())


def _block_tokens(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise JalapenoError(f"expected a positive integer, got {value!r}", field="block_tokens")
    return value


def _first_line(path: Path) -> str:
    with _open_text(path) as f:
        try:
            for text in f:
                if text.strip():
                    return text.strip()
        except UnicodeDecodeError:
            raise JalapenoError(f"{path.name}: not UTF-8 text; expected a CSV or JSONL trace") from None
    raise JalapenoError(f"{path.name}: empty file; expected a CSV header or one JSON object per line")


def detect_format(path: str | Path) -> str:
    """'azure', 'burstgpt', 'plain', 'vidur', 'mooncake' or 'tracelab', from the header line (CSV) or first
    object (JSONL)."""
    path = Path(path)
    first = _first_line(path)
    if first.startswith("{"):
        try:
            keys = set(json.loads(first))
        except (ValueError, TypeError, RecursionError):
            keys = set()
        if {"input_tokens_total", "timing_events"} & keys:
            return "tracelab"
        if {"input_length", "hash_ids"} & keys:
            return "mooncake"
    else:
        header = first.lower()
        if "contexttokens" in header:
            return "azure"
        if "request tokens" in header:
            return "burstgpt"
        if "num_prefill_tokens" in header:
            return "vidur"
        if "prompt_tokens" in header:
            return "plain"
    raise JalapenoError(
        f"{path.name}: unknown trace format, first line {first[:60]!r}; expected a CSV header "
        f"{','.join(AZURE_COLUMNS)} (Azure), {','.join(BURSTGPT_COLUMNS)},... (BurstGPT), "
        f"{','.join(PLAIN_COLUMNS)} (plain) or {','.join(VIDUR_COLUMNS)} (Vidur), or JSONL objects "
        "with input_length/output_length/hash_ids (Mooncake) or input_tokens_total/timing_events (TraceLab)"
    )


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def resolve_trace(name_or_path: str | Path) -> tuple[Path, str, str]:
    """(path, name, attribution) of a bundled name or alias, or of a file."""
    local = Path(name_or_path).expanduser()
    if _is_file(local):  # a file that exists wins over a bundled name spelled the same
        return local, local.stem, ""
    bundled: BundledTrace | None = find_bundled(str(name_or_path))
    if bundled is not None:
        return bundled.path, bundled.name, bundled.attribution
    path = Path(name_or_path).expanduser()
    if not _is_file(path):
        raise JalapenoError(
            f"unknown trace {str(name_or_path)!r}: expected a bundled name "
            f"({', '.join(bundled_names())}) or the path of a trace file"
        )
    return path, path.stem, ""


def load_trace(
    name_or_path: str | Path,
    *,
    limit: int | None = None,
    start_s: float | None = None,
    duration_s: float | None = None,
    drop_failed: bool = False,
    block_tokens: int = 512,
    align_sessions: bool = True,
) -> Trace:
    """Load a bundled trace by name (``jalapeno traces`` lists them) or any supported trace file.

    ``start_s``/``duration_s`` keep arrivals in ``[start_s, start_s + duration_s)`` seconds from the trace
    start and measure arrivals from ``start_s``; ``limit`` then keeps the first ``limit`` requests.
    ``drop_failed`` applies to BurstGPT, ``block_tokens`` to Mooncake and TraceLab, ``align_sessions``
    to TraceLab (see the format loaders).
    """
    window = Window(start_s, duration_s, limit)
    path, name, attribution = resolve_trace(name_or_path)
    kind = detect_format(path)
    common: dict[str, Any] = {"window": window, "name": name, "attribution": attribution}
    if kind == "azure":
        trace = load_azure(path, **common)
    elif kind == "burstgpt":
        trace = load_burstgpt(path, drop_failed=drop_failed, **common)
    elif kind == "mooncake":
        trace = load_mooncake(path, block_tokens=block_tokens, **common)
    elif kind in ("plain", "vidur"):
        trace = load_plain_csv(path, block_tokens=block_tokens, vidur=kind == "vidur", **common)
    else:
        trace = load_tracelab(path, block_tokens=block_tokens, align_sessions=align_sessions, **common)
    if attribution:  # bundled: a machine-independent source, so JSON output is the same everywhere
        trace = replace(trace, source=f"jalapeno/workload/traces/{path.name}")
    return trace
