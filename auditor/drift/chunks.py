"""How the state store keeps snapshots and reports: split into content-addressed chunks, each stored once.

A daemon stores a snapshot and a report every cycle, and from one cycle to the next almost nothing in them
changes: the grants, principals and findings of a steady workspace are the same, only the collection time
moves. So a document is stored as a small *manifest*: the document itself with every long list replaced by
``{"$chunks": <digest>}``. That digest names a blob holding the list of the list's chunk digests, and each
chunk is a blob holding a run of the list's items as JSON. Blobs are keyed by their content (BLAKE2b of the items'
``repr``, which is deterministic for JSON values and cheaper than JSON), so a chunk that did not change is not
stored again: a steady-state cycle adds its manifest and nothing else.

Chunk boundaries are chosen by content (an item ends a chunk when a checksum of its ``repr`` has its low
bits zero), so adding or removing one grant changes the chunk around it, not every chunk after it.

Pure functions: the store decides where blobs live and when they are no longer referenced
(`roots` names what a manifest references directly).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CHUNKED = "$chunks"
MIN_ITEMS = 4  # shorter lists stay inline in the manifest
BOUNDARY_MASK = 0xFF  # an item ends a chunk when crc32(item) & mask == 0: chunks of ~256 items
MAX_ITEMS = 4096  # and a chunk never holds more than this


def pack(text: str) -> bytes:
    return zlib.compress(text.encode(), 6)


def unpack(blob: bytes) -> str:
    return zlib.decompress(blob).decode()


def digest_of(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class Encoded:
    """A document split for storage: its manifest, and every blob it needs (digest -> compressed bytes)."""

    manifest: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)  # those ``known`` did not vouch for
    referenced: set[str] = field(default_factory=set)  # every blob the manifest needs, directly or not

    @property
    def roots(self) -> tuple[str, ...]:
        return roots(self.manifest)


def encode(document: Mapping[str, Any], *, known: Callable[[str], bool] = lambda digest: False) -> Encoded:
    """Split a JSON document (a dict) into a manifest and its blobs.

    ``known`` tells whether a blob is stored already: its bytes are then not compressed again.
    """
    encoded = Encoded(manifest={})
    for key, value in document.items():
        if isinstance(value, list) and len(value) >= MIN_ITEMS:
            encoded.manifest[key] = {CHUNKED: _store_list(value, encoded, known)}
        else:
            encoded.manifest[key] = value
    return encoded


def _store_list(items: list[Any], encoded: Encoded, known: Callable[[str], bool]) -> str:
    chunk_digests = [_put_chunk(chunk, encoded, known) for chunk in _chunks(items)]
    listing = json.dumps(chunk_digests, separators=(",", ":"))
    return _put(digest_of(listing), lambda: listing, encoded, known)


def _chunks(items: list[Any]) -> Iterable[tuple[list[Any], list[str]]]:
    """Runs of items, with each item's ``repr``: deterministic for JSON values, and far cheaper than JSON."""
    run: list[Any] = []
    spelled: list[str] = []
    crc32 = zlib.crc32
    for item in items:
        text = repr(item)
        run.append(item)
        spelled.append(text)
        if crc32(text.encode()) & BOUNDARY_MASK == 0 or len(run) >= MAX_ITEMS:
            yield run, spelled
            run, spelled = [], []
    if run:
        yield run, spelled


def _put_chunk(chunk: tuple[list[Any], list[str]], encoded: Encoded, known: Callable[[str], bool]) -> str:
    """A chunk is keyed by its items' ``repr``; it is written as JSON only when not stored already."""
    items, spelled = chunk
    return _put(digest_of("\n".join(spelled)), lambda: _json(items), encoded, known)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _put(digest: str, text: Callable[[], str], encoded: Encoded, known: Callable[[str], bool]) -> str:
    if digest not in encoded.referenced:
        encoded.referenced.add(digest)
        if not known(digest):
            encoded.blobs[digest] = pack(text())
    return digest


def decode(manifest: Mapping[str, Any], fetch: Callable[[str], bytes]) -> dict[str, Any]:
    """The document again, reading each blob through ``fetch`` (digest -> compressed bytes; KeyError if absent)."""
    document: dict[str, Any] = {}
    for key, value in manifest.items():
        if _is_reference(value):
            chunk_digests: list[str] = json.loads(unpack(fetch(value[CHUNKED])))
            items: list[Any] = []
            for digest in chunk_digests:
                items += json.loads(unpack(fetch(digest)))
            document[key] = items
        else:
            document[key] = value
    return document


def roots(manifest: Mapping[str, Any]) -> tuple[str, ...]:
    """The blobs a manifest references directly (each names its chunks: `chunk_digests`)."""
    return tuple(value[CHUNKED] for value in manifest.values() if _is_reference(value))


def chunk_digests(root: bytes) -> list[str]:
    """The chunks a root blob (a stored list) names."""
    found: list[str] = json.loads(unpack(root))
    return found


def _is_reference(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(CHUNKED), str)
