"""The collection's progress seam: a listener hears every planned read, then each read's status exactly once.

Against the sandbox over HTTP, so the statuses come from the real collectors and clients.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

from auditor.collect import collect_target
from auditor.collect.interface import FactSink, ReadFailed
from auditor.model.facts import FactFamily, ReadState
from auditor_sandbox import Sandbox
from tests.collect.conftest import NOW, full_plan, target_for


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.plan: list[tuple[FactFamily, str]] = []
        self.records: list[tuple[FactFamily, str, ReadState]] = []
        self.planned_before_first_record = True

    def planned(self, scopes: Sequence[tuple[FactFamily, str]]) -> None:
        with self.lock:
            self.planned_before_first_record = not self.records
            self.plan = list(scopes)

    def recorded(self, family: FactFamily, scope: str, state: ReadState) -> None:
        with self.lock:
            self.records.append((family, scope, state))


def test_every_read_is_heard_once_with_its_state(healthy: Sandbox) -> None:
    recorder = Recorder()
    snapshot = collect_target(target_for(healthy), full_plan(), now=NOW, progress=recorder).snapshot
    assert recorder.planned_before_first_record and recorder.plan
    heard = Counter((family, scope) for family, scope, _ in recorder.records)
    assert max(heard.values()) == 1, "a scope recorded twice is heard once"
    assert set(heard) == {(s.family, s.scope) for s in snapshot.reads}, "every status of the snapshot, no other"
    assert set(recorder.plan) <= set(heard), "every planned read ends with a status"
    assert all(state is ReadState.READ for _, _, state in recorder.records)


def test_a_failed_read_is_heard_as_failed(fresh: Sandbox) -> None:
    fresh.set_fault("workspace-conf", "server-error", status=503, retry_after=None)
    recorder = Recorder()
    snapshot = collect_target(target_for(fresh), full_plan(), now=NOW, progress=recorder).snapshot
    failed = {(f, s) for f, s, state in recorder.records if state is not ReadState.READ}
    assert (FactFamily.WORKSPACE_CONF, "*") in failed
    assert failed == {(s.family, s.scope) for s in snapshot.reads if s.state is not ReadState.READ}


def test_scopes_sealed_at_the_deadline_are_heard_as_failed() -> None:
    recorder = Recorder()
    sink = FactSink(recorder)
    sink.commit(FactFamily.TOKENS)
    sink.fail(FactFamily.TOKENS, "*", ReadFailed("later and worse"))  # the worse state wins; heard once
    sink.seal([(FactFamily.TOKENS, "*"), (FactFamily.GRANTS, "CATALOG:main")], ReadFailed("deadline exceeded"))
    assert recorder.records == [
        (FactFamily.TOKENS, "*", ReadState.READ),
        (FactFamily.GRANTS, "CATALOG:main", ReadState.FAILED),
    ]
