"""Issue 9 items 6 and 7 end to end, through the real clients against the sandbox.

information_schema "automatically filter[s] results to include only the objects you have Unity Catalog
privileges to access" (docs: sql-ref-information-schema), with no error: a bulk read by an auditor that is not
a metastore admin is partial, and what rests on it is `error`, never pass. The principal sweep reads every
privilege view (metastore_privileges included) and survives a view the runtime lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from auditor.cycle import run_cycle
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import FactFamily, ReadState
from auditor.model.findings import Status
from auditor.packs.loader import load_packs
from auditor.settings import Settings
from auditor_sandbox import Sandbox
from tests.golden import METASTORE_EXCESS, NONADMIN_AUDITOR, non_pass
from tests.rules.documented import RETL

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PACKS = load_packs(kinds=builtin_kind_args())


def _findings(sandbox: Sandbox) -> dict[tuple[str, str], Status]:
    target = Settings.model_validate(sandbox.config_dict(auth="pat")).targets[0]
    report = run_cycle(target, PACKS, now=NOW).report
    return {(f.rule_id, f.subject): f.status for f in report.findings}


def _non_pass(findings: dict[tuple[str, str], Status]) -> set[tuple[str, str, Status]]:
    return {(rule, subject, status) for (rule, subject), status in findings.items() if status is not Status.PASS}


@pytest.fixture
def nonadmin() -> Iterator[Sandbox]:
    with Sandbox.start("nonadmin-auditor", now=NOW) as sandbox:
        yield sandbox


def test_an_exposure_hidden_from_a_non_metastore_admin_is_error_not_pass(nonadmin: Sandbox) -> None:
    findings = _findings(nonadmin)
    assert findings[("X-2", "CATALOG:segment_profiles")] is Status.ERROR


def test_a_non_metastore_admin_auditor_reports_exactly_the_planted_problems(nonadmin: Sandbox) -> None:
    assert _non_pass(_findings(nonadmin)) == non_pass(NONADMIN_AUDITOR)


def test_the_reason_names_the_identity_and_the_missing_condition(nonadmin: Sandbox) -> None:
    target = Settings.model_validate(nonadmin.config_dict(auth="pat")).targets[0]
    snapshot = run_cycle(target, PACKS, now=NOW).snapshot
    status = snapshot.read_status(FactFamily.GRANTS, "watch:segment_profiles")
    assert status.state is ReadState.NOT_VISIBLE
    assert status.reason is not None
    assert f"information_schema shows only what {snapshot.auditor_identity} may see" in status.reason
    assert "not a metastore admin or owner of segment_profiles" in status.reason


def test_making_the_auditor_a_metastore_admin_makes_the_bulk_reads_complete(nonadmin: Sandbox) -> None:
    metastore = nonadmin.state.catalog.metastore
    assert metastore is not None
    nonadmin.state.directory.add_group_member("metastore-admins", nonadmin.auditor_client_id)
    findings = _findings(nonadmin)
    assert findings[("X-2", "CATALOG:segment_profiles")] is Status.FAIL
    assert findings[("X-1", f"principal:{RETL}")] is Status.PASS


def test_create_catalog_on_the_metastore_is_excess_even_without_storage_credential_privileges() -> None:
    with Sandbox.start("metastore-excess", now=NOW) as sandbox:
        assert _non_pass(_findings(sandbox)) == non_pass(METASTORE_EXCESS)


@pytest.mark.parametrize(
    ("dropped", "unread"),
    [
        ({"storage_credential_privileges"}, set()),  # credential_privileges replaces it from DBR 15.4
        ({"credential_privileges"}, set()),  # before DBR 15.4
        ({"credential_privileges", "storage_credential_privileges"}, {"credential_privileges"}),
        ({"volume_privileges"}, {"volume_privileges"}),
    ],
)
def test_a_missing_privilege_view_leaves_only_its_part_unread(dropped: set[str], unread: set[str]) -> None:
    with Sandbox.start("metastore-excess", now=NOW) as sandbox:
        sandbox.state.catalog.dropped_privilege_views = frozenset(dropped)
        target = Settings.model_validate(sandbox.config_dict(auth="pat")).targets[0]
        result = run_cycle(target, PACKS, now=NOW)
        status = result.snapshot.read_status(FactFamily.GRANTS, f"principal:{RETL}")
        findings = {(f.rule_id, f.subject): f.status for f in result.report.findings}
        if not unread:
            assert status.state is ReadState.READ
            assert findings[("X-1", f"principal:{RETL}")] is Status.FAIL
        else:
            assert status.state is ReadState.FAILED
            assert all(view in (status.reason or "") for view in unread)
            # the CREATE CATALOG seen in metastore_privileges still counts as excess
            assert findings[("X-1", f"principal:{RETL}")] is Status.FAIL
