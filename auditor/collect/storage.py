"""The metastore assignment, storage credentials and external locations (Unity Catalog REST)."""

from __future__ import annotations

from auditor.collect.clients import RestClient
from auditor.collect.interface import ObjectNotFound
from auditor.collect.rest_grants import UC, segment
from auditor.model.facts import ExternalLocation, MetastoreAssignment, StorageCredential


def read_metastore(rest: RestClient) -> MetastoreAssignment | None:
    """The workspace's metastore and its privilege model; None when no metastore is assigned (404)."""
    try:
        assignment = rest.get(f"{UC}/current-metastore-assignment")
    except ObjectNotFound:
        return None
    try:
        summary = rest.get(f"{UC}/metastore_summary")
    except ObjectNotFound:
        summary = {}
    metastore_id = assignment.get("metastore_id") or summary.get("metastore_id")
    if not metastore_id:
        return None
    workspace_id = assignment.get("workspace_id")
    return MetastoreAssignment(
        metastore_id=str(metastore_id),
        workspace_id=str(workspace_id) if workspace_id is not None else None,
        default_catalog_name=assignment.get("default_catalog_name"),
        privilege_model_version=summary.get("privilege_model_version"),
        name=summary.get("name"),
    )


def read_storage_credential(rest: RestClient, name: str) -> StorageCredential | None:
    """One storage credential and the IAM role behind it; None if it does not exist."""
    try:
        info = rest.get(f"{UC}/storage-credentials/{segment(name)}")
    except ObjectNotFound:
        return None
    role = info.get("aws_iam_role") or {}
    return StorageCredential(
        name=str(info.get("name") or name),
        owner=info.get("owner"),
        aws_role_arn=role.get("role_arn"),
        aws_external_id=role.get("external_id"),
        unity_catalog_iam_arn=role.get("unity_catalog_iam_arn"),
        read_only=bool(info.get("read_only")),
    )


def read_external_location(rest: RestClient, name: str) -> ExternalLocation | None:
    """One external location; None if it does not exist."""
    try:
        info = rest.get(f"{UC}/external-locations/{segment(name)}")
    except ObjectNotFound:
        return None
    return ExternalLocation(
        name=str(info.get("name") or name),
        url=str(info.get("url") or ""),
        credential_name=str(info.get("credential_name") or ""),
        owner=info.get("owner"),
        read_only=bool(info.get("read_only")),
    )
