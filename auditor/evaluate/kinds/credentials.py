"""Credential expiry: personal access tokens and service-principal OAuth secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field

from auditor.evaluate.context import EvalContext
from auditor.evaluate.kinds import _fixes
from auditor.evaluate.kinds._common import NonEmpty
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import FactFamily
from auditor.model.findings import FixAction, Remediation, Status
from auditor.model.plan import CollectionPlan


class CredentialExpiryArgs(KindArgs):
    principal: NonEmpty
    credential: Literal["pat", "oauth_secret"]
    warn_days: int = Field(30, ge=0, description="warn when the credential expires within this many days")
    max_lifetime_days: int | None = Field(None, ge=1, description="warn when a credential lives longer (or forever)")
    rotation_lifetime_days: int = Field(90, ge=1, description="lifetime proposed for a replacement token")


def relevant_expiry(expiries: Sequence[datetime | None], now: datetime) -> datetime | None:
    """The expiry that matters: the earliest among the credentials still valid at ``now``; when every one
    has expired, the latest (so "expired" shows, not an older leftover). ``None`` when there is none,
    or when a credential that never expires is still valid."""
    dated = [e for e in expiries if e is not None]
    valid = [e for e in dated if e > now]
    if valid:
        return min(valid)
    if not dated or len(dated) < len(expiries):
        return None
    return max(dated)


def _when(moment: datetime | None) -> str:
    return "never expires" if moment is None else f"expires {moment.isoformat()}"


@register
class CredentialExpiry(CheckKind[CredentialExpiryArgs]):
    """The principal has an active credential of the kind that does not expire within ``warn_days``.

    No active credential fails whether or not expired ones are listed (the service-principal secrets API may
    leave expired secrets out), every one expired fails, expiring soon warns."""

    name = "credential_expiry"
    Args = CredentialExpiryArgs
    families = frozenset({FactFamily.TOKENS, FactFamily.OAUTH_SECRETS, FactFamily.PRINCIPALS})

    def plan(self, args: CredentialExpiryArgs) -> CollectionPlan:
        family = FactFamily.TOKENS if args.credential == "pat" else FactFamily.OAUTH_SECRETS
        return CollectionPlan(
            families=frozenset({family, FactFamily.PRINCIPALS}), principals=frozenset({args.principal})
        )

    def evaluate(self, args: CredentialExpiryArgs, ctx: EvalContext) -> list[Outcome]:
        label = "personal access token" if args.credential == "pat" else "OAuth secret"
        subject = f"{args.credential}:{args.principal}"
        if args.credential == "pat":
            tokens = ctx.facts.tokens_of(args.principal)
            expiries = [t.expiry_time for t in tokens]
            created = [t.creation_time for t in tokens]
            ids = [t.token_id for t in tokens]
            lifetime = min(args.rotation_lifetime_days, args.max_lifetime_days or args.rotation_lifetime_days)
            rotate = _fixes.rotate_token(args.principal, lifetime)  # a replacement must respect the cap
        else:
            secrets = [s for s in ctx.facts.oauth_secrets_of(args.principal) if s.status.upper() == "ACTIVE"]
            expiries = [s.expire_time for s in secrets]
            created = [s.create_time for s in secrets]
            ids = [s.secret_id for s in secrets]
            rotate = _fixes.rotate_secret(ctx.seen.principal(args.principal), args.principal)  # shapes the fix only
        outcomes = self._judge(args, ctx, label, subject, expiries, created, ids, rotate)
        expires_at = relevant_expiry(expiries, ctx.now)
        return [replace(o, expires_at=expires_at) for o in outcomes]

    def _judge(
        self,
        args: CredentialExpiryArgs,
        ctx: EvalContext,
        label: str,
        subject: str,
        expiries: list[datetime | None],
        created: list[datetime | None],
        ids: list[str],
        rotate: Remediation,
    ) -> list[Outcome]:
        if not expiries:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"{args.principal} has no active {label}",
                    expected=f"an active {label} that does not expire within {args.warn_days} days",
                    found="none",
                    remediation=rotate,
                )
            ]
        valid = [e for e in expiries if e is None or e > ctx.now]
        evidence = tuple(f"{label} {i} {_when(e)}" for i, e in zip(ids, expiries, strict=True))
        if not valid:
            return [
                Outcome(
                    Status.FAIL,
                    subject,
                    f"every {label} of {args.principal} has expired",
                    expected=f"an active {label} that does not expire within {args.warn_days} days",
                    found=f"{len(expiries)} expired",
                    evidence=evidence,
                    remediation=rotate,
                )
            ]
        latest = None if any(e is None for e in valid) else max(e for e in valid if e is not None)
        if latest is not None and latest - ctx.now <= timedelta(days=args.warn_days):
            days = (latest - ctx.now).total_seconds() / 86400
            return [
                Outcome(
                    Status.WARN,
                    subject,
                    f"the {label} of {args.principal} expires in {days:.1f} days ({latest.date().isoformat()})",
                    expected=f"more than {args.warn_days} days left",
                    found=f"{days:.1f} days",
                    evidence=evidence,
                    remediation=rotate,
                )
            ]
        if args.max_lifetime_days is not None:
            cap = timedelta(days=args.max_lifetime_days)
            too_long = [
                (i, e)
                for i, c, e in zip(ids, created, expiries, strict=True)
                if e is None or (e > ctx.now and e - (c or ctx.now) > cap)
            ]
            if too_long:
                lives = "never expires" if any(e is None for _, e in too_long) else "lives longer than that"
                cap_days = args.max_lifetime_days
                replace = f"replace it with one that expires within {cap_days} days"
                return [
                    Outcome(
                        Status.WARN,
                        subject,
                        f"lifetimes are capped at {cap_days} days, but a {label} of "
                        f"{args.principal} {lives}: " + ", ".join(i for i, _ in too_long),
                        expected=f"at most {cap_days} days",
                        evidence=evidence,
                        remediation=Remediation(summary=replace, commands=rotate.commands, kind=FixAction.RENEW),
                    )
                ]
        return [
            Outcome(
                Status.PASS,
                subject,
                f"{args.principal} has a valid {label} ({_when(latest)})",
                evidence=evidence,
            )
        ]
