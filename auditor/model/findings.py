"""Findings and reports: what the evaluation core returns for one snapshot."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"  # the facts could not be read or evaluated: never a pass, never a fail


STATUSES: tuple[Status, ...] = (Status.PASS, Status.FAIL, Status.WARN, Status.ERROR)


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

    @property
    def finding_id(self) -> str:
        """Stable across runs: rule, integration, target and subject, not the status."""
        raw = "\x1f".join((self.target, self.integration, self.rule_id, self.subject))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


class Report(_Frozen):
    """All findings of one evaluation of one snapshot."""

    target: str
    evaluated_at: datetime
    snapshot_collected_at: datetime
    findings: tuple[Finding, ...] = ()
    skipped: tuple[str, ...] = Field(default=(), description="rules not applicable to this binding")

    def counts(self) -> Counter[Status]:
        return Counter(f.status for f in self.findings)

    def worst(self) -> Status:
        """FAIL over ERROR over WARN over PASS."""
        statuses = {f.status for f in self.findings}
        for status in (Status.FAIL, Status.ERROR, Status.WARN):
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
