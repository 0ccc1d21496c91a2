"""Remediations for non-SQL findings: the exact databricks CLI and REST calls (built by auditor.remediate)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from auditor.model.facts import Principal, PrincipalKind
from auditor.model.findings import FixAction, Remediation
from auditor.remediate import commands


def warehouse_permission(warehouse_id: str, principal: str, kind: PrincipalKind, level: str) -> Remediation:
    return Remediation(
        summary=f"give {principal} {level} on warehouse {warehouse_id} (adds to the ACL, removes nothing)",
        commands=commands.warehouse_permission(warehouse_id, principal, kind, level).lines,
    )


def token_permission(principal: str, kind: PrincipalKind, level: str) -> Remediation:
    return Remediation(
        summary=f"give {principal} {level} on token usage",
        commands=commands.token_usage_permission(principal, kind, level).lines,
    )


def entitlements(principal: Principal, missing: Sequence[str]) -> Remediation:
    scim_id = principal.scim_id or principal.name
    return Remediation(
        summary=f"add entitlement(s) {', '.join(missing)} to {principal.name}",
        commands=commands.add_entitlements(scim_id, principal.kind, list(missing)).lines,
    )


def workspace_conf(key: str, value: str) -> Remediation:
    return Remediation(summary=f"set {key} to {value}", commands=commands.set_workspace_conf({key: value}).lines)


def warehouse_edit(
    warehouse_id: str, size: str | None, min_clusters: int | None, max_clusters: int | None
) -> Remediation:
    body = {
        k: v
        for k, v in {
            "cluster_size": size,
            "min_num_clusters": min_clusters,
            "max_num_clusters": max_clusters,
        }.items()
        if v is not None
    }
    cli = shlex.join(["databricks", "warehouses", "edit", warehouse_id, "--json", json.dumps(body)])
    return Remediation(
        summary="resize the warehouse as the document recommends", commands=(cli,), kind=FixAction.CHANGE
    )


def rotate_token(application_id: str, lifetime_days: int) -> Remediation:
    return Remediation(
        summary=f"create a new token for {application_id}, update it in Segment, then revoke the old one",
        commands=commands.create_obo_token(
            application_id, lifetime_seconds=lifetime_days * 86400, comment="Segment integration token"
        ).lines,
        kind=FixAction.RENEW,
    )


def rotate_secret(principal: Principal | None, application_id: str) -> Remediation:
    scim_id = principal.scim_id if principal and principal.scim_id else application_id
    return Remediation(
        summary=f"create a new OAuth secret for {application_id}, update it in Segment, then delete the old one",
        commands=commands.create_oauth_secret(scim_id).lines,
        kind=FixAction.RENEW,
    )
