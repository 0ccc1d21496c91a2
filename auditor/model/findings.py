"""Findings and reports: what the evaluation core returns for one snapshot."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditor.model.versions import REPORTS


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"  # the facts could not be read or evaluated: never a pass, never a fail
    SUPPRESSED = "suppressed"  # a fail or warn accepted by a configured suppression (`Finding.suppression`)


STATUSES: tuple[Status, ...] = tuple(Status)


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Remediation(_Frozen):
    """How to fix a finding. The auditor proposes; it never executes any of this."""

    summary: str = ""
    grant_sql: tuple[str, ...] = ()  # statements that restore what is missing (idempotent)
    revoke_sql: tuple[str, ...] = ()  # suggestions for excess: always shown commented out
    commands: tuple[str, ...] = ()  # databricks CLI / REST / aws CLI calls
    policy_json: dict[str, Any] | None = None  # corrected trust policy

    @property
    def empty(self) -> bool:
        return not (self.summary or self.grant_sql or self.revoke_sql or self.commands or self.policy_json)


class FindingSuppression(_Frozen):
    """Why a finding is `Status.SUPPRESSED`: the suppression that matched it, and what it would be without it."""

    reason: str
    expires: date | None  # it stops applying at the start of this day (UTC); None: an approved baseline's
    ticket: str | None = None
    pattern: str  # what matched: "rule=X-2 target=prod integration=* subject=CATALOG:main", or the baseline
    status: Status  # the status the finding would have without the suppression (fail or warn)


class Finding(_Frozen):
    """The result of one rule on one subject (a securable, warehouse, credential, role ...)."""

    rule_id: str
    pack: str  # the pack's name
    integration: str  # the binding's instance name (pack name unless bound twice)
    target: str
    status: Status
    severity: Severity
    title: str
    requirements: tuple[str, ...] = ()
    subject: str = ""  # e.g. "SCHEMA:main.sales", "warehouse:abc123", "role:arn:..."
    message: str = ""
    expected: str | None = None
    found: str | None = None
    evidence: tuple[str, ...] = ()  # effective-privilege paths and other explanations
    source: str = ""  # "document.md § section"
    remediation: Remediation = Remediation()
    expires_at: datetime | None = None  # credential findings: when the credential that matters expires
    suppression: FindingSuppression | None = Field(
        None,
        exclude_if=lambda value: value is None,  # a report without suppressions is written as before
        description="set exactly when the status is suppressed",
    )

    @model_validator(mode="after")
    def _suppressed_with_a_suppression(self) -> Finding:
        if (self.status is Status.SUPPRESSED) != (self.suppression is not None):
            raise ValueError("a finding carries a suppression exactly when its status is suppressed")
        return self

    @property
    def finding_id(self) -> str:
        """Stable across runs: rule, integration, target and subject, not the status."""
        raw = "\x1f".join((self.target, self.integration, self.rule_id, self.subject))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class AuditedBinding(_Frozen):
    """What one integration audits, resolved once when it is bound to its pack.

    Drift, metrics and the least-privilege checks read this, never a pack's parameter names.
    """

    instance: str  # the binding's instance name (Finding.integration)
    pack: str
    principals: tuple[str, ...] = ()  # values of the pack's parameters of type ``principal``
    securables: tuple[str, ...] = ()  # securable keys its applicable rules read (``CATALOG:main``, ...)
    warehouses: tuple[str, ...] = ()  # warehouse ids its applicable rules read


def audited_principals(audited: Iterable[AuditedBinding]) -> tuple[str, ...]:
    """Every principal the integrations audit, in order, once each (case-insensitively)."""
    seen: dict[str, str] = {}
    for binding in audited:
        for principal in binding.principals:
            seen.setdefault(principal.lower(), principal)
    return tuple(seen.values())


class Report(_Frozen):
    """All findings of one evaluation of one snapshot."""

    schema_version: Literal[1] = 1  # `auditor.model.versions.REPORTS.current`; absent in older files: 1
    target: str
    evaluated_at: datetime
    snapshot_collected_at: datetime
    findings: tuple[Finding, ...] = ()
    skipped: tuple[str, ...] = Field(default=(), description="rules not applicable to this binding")
    audited: tuple[AuditedBinding, ...] = Field(default=(), description="what each integration audits")

    def audited_principals(self) -> tuple[str, ...]:
        return audited_principals(self.audited)

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        """Older versions are migrated on load; a newer one is refused (`SchemaVersionError`)."""
        return REPORTS.upgrade(data)

    def counts(self) -> Counter[Status]:
        return Counter(f.status for f in self.findings)

    def worst(self) -> Status:
        """FAIL over ERROR over WARN over SUPPRESSED over PASS."""
        statuses = {f.status for f in self.findings}
        for status in (Status.FAIL, Status.ERROR, Status.WARN, Status.SUPPRESSED):
            if status in statuses:
                return status
        return Status.PASS


MESSAGE_ITEMS = 10  # items a finding's message names before "… and K more"


def listing(items: Sequence[str], *, limit: int = MESSAGE_ITEMS, separator: str = "; ") -> str:
    """The first ``limit`` items joined, then "… and K more": a message stays short whatever the count.

    The complete list belongs in a structured field (``found``, the remediation), which JSON output keeps.
    """
    shown = separator.join(items[:limit])
    hidden = len(items) - limit
    return f"{shown} … and {hidden} more" if hidden > 0 else shown
