"""The IAM trust policy behind a Unity Catalog storage credential (semantics: auditor.privileges.iam_trust)."""

from __future__ import annotations

from pydantic import Field

from auditor.evaluate.context import EvalContext
from auditor.evaluate.kinds._common import NonEmpty
from auditor.evaluate.registry import CheckKind, KindArgs, Outcome, register
from auditor.model.facts import FactFamily
from auditor.model.findings import Remediation, Status
from auditor.model.plan import CollectionPlan
from auditor.privileges import iam_trust
from auditor.remediate.trust import corrected_policy, update_command

SEGMENT_ROLE_ARN = iam_trust.SEGMENT_ROLE_ARN


class TrustPolicyArgs(KindArgs):
    storage_credential: NonEmpty
    segment_workspace_id: NonEmpty
    segment_role_arn: NonEmpty = SEGMENT_ROLE_ARN
    role_arn: str | None = Field(None, description="defaults to the role behind the storage credential")


@register
class TrustPolicy(CheckKind[TrustPolicyArgs]):
    """The role trusts Segment's role, the Unity Catalog master role and itself, each with its external ID."""

    name = "trust_policy"
    Args = TrustPolicyArgs
    families = frozenset({FactFamily.STORAGE_CREDENTIALS, FactFamily.TRUST_POLICIES})

    def plan(self, args: TrustPolicyArgs) -> CollectionPlan:
        return CollectionPlan(
            families=self.families,
            storage_credentials=frozenset({args.storage_credential}),
            role_arns=frozenset({args.role_arn}) if args.role_arn else frozenset(),
        )

    def evaluate(self, args: TrustPolicyArgs, ctx: EvalContext) -> list[Outcome]:
        # Named from configuration only (a configured role, else the storage credential), never from what was
        # read: a credential that cannot be read must leave the finding, and its history, in place.
        subject = f"role:{args.role_arn}" if args.role_arn else f"storage_credential:{args.storage_credential}"
        credential = ctx.facts.storage_credential(args.storage_credential)
        if credential is None:
            return [Outcome(Status.FAIL, subject, f"storage credential {args.storage_credential} does not exist")]
        role_arn = args.role_arn or credential.aws_role_arn
        if not role_arn or not credential.aws_external_id or not credential.unity_catalog_iam_arn:
            return [
                Outcome(
                    Status.ERROR,
                    subject,
                    f"storage credential {args.storage_credential} reports no AWS IAM "
                    "role, external ID or Unity Catalog master role: cannot derive the required trust",
                )
            ]
        policy = ctx.facts.trust_policy(role_arn)  # discovered through the credential: relied on as well
        if policy is None:
            return [Outcome(Status.FAIL, subject, f"IAM role {role_arn} does not exist")]
        try:
            required = iam_trust.required_pairs(
                role_arn,
                credential.unity_catalog_iam_arn,
                credential.aws_external_id,
                args.segment_role_arn,
                args.segment_workspace_id,
            )
        except ValueError as exc:
            return [Outcome(Status.ERROR, subject, f"cannot derive the required trust: {exc}")]
        document = policy.document if policy.document is not None else policy.raw
        verdict = iam_trust.evaluate_trust(document, required, role_arn)
        expected = "; ".join(f"{r.label} ({r.principal_arn}) with external ID {r.external_id}" for r in required)
        messages = [p.message for p in verdict.problems]
        if verdict.status == "pass":
            return [
                Outcome(
                    Status.PASS,
                    subject,
                    f"{role_arn} trusts exactly what Segment needs",
                    expected=expected,
                    evidence=verdict.evidence,
                )
            ]
        if verdict.status == "error":
            reason = policy.decode_error or "; ".join(messages) or "the policy could not be evaluated"
            return [Outcome(Status.ERROR, subject, f"trust policy of {role_arn} is not a decodable policy: {reason}")]
        fixed = corrected_policy(document, required, role_arn)
        remediation = Remediation(
            summary="replace the trust policy with the corrected one (merged with what is unrelated and harmless)",
            policy_json=fixed,
            commands=(update_command(role_arn, fixed),),
        )
        status = Status.WARN if verdict.status == "warn" else Status.FAIL
        return [
            Outcome(
                status,
                subject,
                "; ".join(messages) or f"trust policy of {role_arn} is {verdict.status}",
                expected=expected,
                evidence=verdict.evidence,
                remediation=remediation,
            )
        ]
