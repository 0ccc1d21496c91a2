"""Suppressions: accepted exceptions from the config, each with a reason and an expiry."""

from __future__ import annotations

from datetime import UTC, date, datetime
from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, Field, field_validator

from auditor.model.findings import Finding


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Suppression(_Frozen):
    """Accept the findings it matches (fail or warn, never error) until it expires: they show as suppressed.

    ``rule``, ``target``, ``integration`` and ``subject`` are globs (``*``, ``?``, ``[...]``, case-sensitive)
    over the finding's stable identifiers; every one must match.
    """

    rule: str = Field(min_length=1, description="rule id glob, e.g. X-2 or DL-*")
    target: str = Field("*", min_length=1, description="target name glob")
    integration: str = Field("*", min_length=1, description="integration (binding instance) glob")
    subject: str = Field("*", min_length=1, description="finding subject glob, e.g. CATALOG:segment_*")
    reason: str = Field(min_length=1, description="why the exception is accepted (shown wherever the finding is)")
    expires: date = Field(description="the suppression stops applying at the start of this day (UTC)")
    ticket: str | None = Field(None, description="where the exception was approved, e.g. SEC-1234")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a suppression needs a reason")
        return value.strip()

    @property
    def pattern(self) -> str:
        return f"rule={self.rule} target={self.target} integration={self.integration} subject={self.subject}"

    def active(self, now: datetime) -> bool:
        return now < expiry_moment(self.expires)

    def applies_to_target(self, target: str) -> bool:
        return fnmatchcase(target, self.target)

    def matches(self, finding: Finding) -> bool:
        return (
            fnmatchcase(finding.rule_id, self.rule)
            and fnmatchcase(finding.target, self.target)
            and fnmatchcase(finding.integration, self.integration)
            and fnmatchcase(finding.subject, self.subject)
        )


def expiry_moment(expires: date) -> datetime:
    """The moment a suppression expiring on ``expires`` stops applying: the start of that day, UTC."""
    return datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
