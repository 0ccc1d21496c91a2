"""Collectors: read grants, ACLs, identities, credentials and trust policies into the facts `Snapshot`.

`collect_target` runs one cycle for one target and plan; `preflight` reports the auditor's identity and
which fact families it can read. See docs/collection.md.
"""

from __future__ import annotations

from auditor.collect.preflight import PreflightResult, preflight
from auditor.collect.snapshot import CollectionResult, collect_target

__all__ = ["CollectionResult", "PreflightResult", "collect_target", "preflight"]
