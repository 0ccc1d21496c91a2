"""Bulk facts stay cheap without changing meaning: compact grants, and the collector paused only inside a step."""

from __future__ import annotations

import dataclasses
import gc

from auditor.heap import paused_cycle_collection
from auditor.model.facts import Grant, SecurableType, Snapshot


def test_a_grant_built_directly_is_coerced_like_a_validated_one() -> None:
    built = Grant(principal="p", privilege="SELECT", securable_type="TABLE", securable_name="main.s.t")  # type: ignore[arg-type]
    assert built.securable_type is SecurableType.TABLE
    assert not hasattr(built, "__dict__")  # slotted: a million of them fit in memory
    document = {"target": "t", "collected_at": "2026-01-01T00:00:00Z", "grants": [dataclasses.asdict(built)]}
    assert Snapshot.model_validate(document).grants == (built,)


def test_a_plain_grant_serialises_without_denied_a_deny_with_it() -> None:
    plain = Grant(principal="p", privilege="SELECT", securable_type=SecurableType.TABLE, securable_name="a.b.c")
    denied = Grant(
        principal="p", privilege="SELECT", securable_type=SecurableType.TABLE, securable_name="a.b.c", denied=True
    )
    snapshot = Snapshot.model_validate(
        {"target": "t", "collected_at": "2026-01-01T00:00:00Z", "grants": [plain, denied]}
    )
    dumped = snapshot.to_dict()["grants"]
    assert "denied" not in dumped[0] and dumped[1]["denied"] is True


def test_the_collector_is_paused_inside_the_step_and_restored_after() -> None:
    assert gc.isenabled()
    with paused_cycle_collection():
        assert not gc.isenabled()
        with paused_cycle_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an outer pause outlives an inner one
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_cycle_collection():
            pass
        assert not gc.isenabled()  # a collector someone else disabled stays disabled
    finally:
        gc.enable()
