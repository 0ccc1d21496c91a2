"""The one way the auditor reads a file it is given: config, rule packs, snapshots, baselines.

Only regular files are opened (a FIFO, a directory or a device is refused before anything blocks), each kind
of file has a size limit, and the bytes must be UTF-8. JSON documents are also refused when they repeat a key
or nest too deeply; the YAML equivalents (plus alias expansion) live in `auditor.yamlio`. Every refusal is an
`InputError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import ValidationError

from auditor.errors import InputError
from auditor.heap import paused_cycle_collection

if TYPE_CHECKING:
    from auditor.model.facts import Snapshot

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one kind of input file may hold."""

    what: str
    max_bytes: int
    max_depth: int = 64
    max_nodes: int = 20_000  # values after alias expansion (YAML): the shipped packs hold ~550
    max_aliases: int = 1_000


CONFIG = Limits("config", max_bytes=1 * MiB)
RULE_PACK = Limits("rule pack", max_bytes=1 * MiB)
# a snapshot of a million grants is a few hundred MB; it is JSON (no aliases) and validated by pydantic
SNAPSHOT = Limits("snapshot", max_bytes=2048 * MiB, max_nodes=0, max_aliases=0)

_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF8, "UTF-8 with a byte-order mark"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _file_type(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, limits: Limits) -> bytes:
    """The file's bytes, if it is a regular file within the size limit; never blocks on a FIFO or device."""
    try:
        kind = _file_type(os.stat(path).st_mode)
        if kind is not None:
            raise InputError(path, f"cannot read {limits.what}: {kind}, not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            # the path may have been swapped between stat and open: judge what was opened
            opened = os.fstat(handle.fileno())
            kind = _file_type(opened.st_mode)
            if kind is not None:
                raise InputError(path, f"cannot read {limits.what}: {kind}, not a regular file")
            data = _read_at_most(handle, opened.st_size, limits.max_bytes + 1)
    except OSError as exc:
        raise InputError(path, f"cannot read {limits.what}: {exc.strerror or exc}") from exc
    if len(data) > limits.max_bytes:
        raise InputError(path, f"the {limits.what} is larger than the {_size(limits.max_bytes)} limit")
    return data


def _read_at_most(handle: BinaryIO, expected: int, limit: int) -> bytes:
    """Up to ``limit`` bytes; a buffer is sized by what the file holds, not by the limit."""
    chunks = [handle.read(min(expected, limit))]
    total = len(chunks[0])
    while total < limit:  # the file may have grown since fstat
        chunk = handle.read(min(1 << 20, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def decode_utf8(path: str | Path, data: bytes) -> str:
    """Strict UTF-8; the error names the line and byte offset of the first bad byte."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise InputError(path, f"the file is {name}: save it as UTF-8 without a byte-order mark", line=1)
    try:
        return data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = " (UTF-16?)" if b"\x00" in data[:64] else ""
        raise InputError(
            path, f"not UTF-8{hint}: byte 0x{data[exc.start]:02x} at offset {exc.start} is invalid", line=line
        ) from exc


def read_text(path: str | Path, limits: Limits) -> str:
    """A regular file within the size limit, decoded as strict UTF-8, or `InputError`."""
    return decode_utf8(path, read_bytes(path, limits))


class _TooDeep(Exception):
    pass


def parse_json(path: str | Path, text: str, limits: Limits) -> Any:
    """The JSON document, refused when malformed, repeating a key in an object, or nested deeper than the limit.

    Parsed once: a snapshot of a million grants costs one pass of the C decoder, a dictionary check per object,
    and one walk level by level for the depth.
    """

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        document = dict(pairs)
        if len(document) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise InputError(path, "duplicate key in a JSON object", field=key)
                seen.add(key)
        return document

    try:
        document = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc
    except RecursionError as exc:
        raise InputError(path, f"invalid JSON: nested deeper than {limits.max_depth} levels") from exc
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise InputError(path, f"invalid JSON: {str(exc).split(';')[0]}") from exc
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(limits.max_depth):
        if not level:
            return document
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]
    if level:
        raise InputError(path, f"invalid JSON: nested deeper than {limits.max_depth} levels")
    return document


def load_snapshot(path: str | Path) -> Snapshot:
    """Read a facts snapshot file; anything wrong with it is an `InputError`."""
    from auditor.model.facts import Snapshot

    text = read_text(path, SNAPSHOT)
    with paused_cycle_collection():
        document = parse_json(path, text, SNAPSHOT)
        del text
        try:
            return Snapshot.model_validate(document)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or None
            raise InputError(path, f"not a valid snapshot: {first['msg']}", field=where) from exc


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB else f"{n:,} bytes"
