"""The remaining platform fixtures through the collectors' real parsing code (tests/fixtures/platform/*.json).

REST bodies go through the real SDK client and `RestClient` over a replaying transport (`tests.collect.replay`),
then through the collector that reads them; SQL error texts through `translate_sql_error`. Each test names the
fixture's provenance (the `_provenance` block of the file says more).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from auditor.collect.aws_trust import role_name, trust_policy_fact
from auditor.collect.credentials import TOKENS, epoch_ms, parse_oauth_secrets, read_token_permissions, read_tokens
from auditor.collect.identities import SCIM, ScimDirectory, read_me
from auditor.collect.interface import NotVisible, ObjectNotFound, ReadFailure
from auditor.collect.rest_grants import UC, read_securable
from auditor.collect.sqlconn import translate_sql_error
from auditor.collect.storage import read_metastore, read_storage_credential
from auditor.collect.warehouses import PERMISSIONS
from auditor.model.facts import AclEntry, PrincipalKind, SecurableType
from auditor.privileges.names import USERS_GROUP
from tests.collect.replay import replay_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platform"
FORBIDDEN = (403, {"error_code": "PERMISSION_DENIED", "message": "Only admins can read groups."})


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


# ---- tokens -----------------------------------------------------------------------------------------------------


def test_token_management_list_names_the_creator_and_reads_epoch_milliseconds() -> None:
    # Azure Databricks token-management docs, "Example response" (code-index file id 15464387616)
    body = fixture("token_management_list")["response"]
    rest = replay_client({TOKENS: (200, body)})  # the creator's SCIM id is unknown to SCIM: 404

    [token] = read_tokens(rest, ScimDirectory(rest))

    info = body["token_infos"][0]
    assert token.token_id == info["token_id"]
    assert token.owner == "jsmith@example.com"  # no owner_id: the creator, named by created_by_username
    assert token.creation_time == _ms(info["creation_time"])
    assert token.expiry_time == _ms(info["expiry_time"])
    assert token.comment == "This is for ABC division's automation scripts."


def test_a_token_expiry_of_minus_one_never_expires() -> None:
    # databricks/terraform-provider-databricks TestTokensAPI_List (/api/2.0/token/list mock)
    infos = fixture("token_management_list")["also_user_token_list"]["token_infos"]
    assert [epoch_ms(i["expiry_time"]) for i in infos] == [_ms(1513120616294), None]


def test_token_permissions_read_as_an_access_control_list() -> None:
    # databricks/terraform-provider-databricks exporter/test-data/get-tokens-permissions.json @ 684f442
    body = fixture("token_permissions")["response"]
    rest = replay_client({f"{PERMISSIONS}/authorization/tokens": (200, body)})

    assert read_token_permissions(rest) == [
        AclEntry(principal="admins", principal_kind=PrincipalKind.GROUP, permission_level="CAN_MANAGE")
    ]


# ---- OAuth secrets ----------------------------------------------------------------------------------------------


def test_a_service_principal_secret_listing_reads_status_and_rfc3339_times() -> None:
    # docs.databricks.com/api/workspace/serviceprincipalsecretsproxy examples + the Terraform provider's mocks
    items = fixture("sp_secrets_list")["response"]["secrets"]

    [secret] = parse_oauth_secrets(items, "sp-app-id")

    assert secret.secret_id == items[0]["id"]
    assert secret.status == "ACTIVE"
    assert secret.create_time == datetime(2023, 1, 1, 19, 30, 41, tzinfo=UTC)
    assert secret.expire_time == datetime(2024, 1, 1, 19, 30, 41, tzinfo=UTC)
    assert "abc" not in secret.model_dump_json()  # secret_hash is never kept


def test_a_secret_without_expire_time_never_expires() -> None:
    # same source: "If the field is not present, the secret does not expire."
    item = {k: v for k, v in fixture("sp_secrets_list")["response"]["secrets"][0].items() if k != "expire_time"}
    [secret] = parse_oauth_secrets([item], "sp-app-id")
    assert secret.expire_time is None and secret.status == "ACTIVE"


# ---- metastore, storage credentials -----------------------------------------------------------------------------


def test_the_metastore_summary_fields_the_collectors_read_exist_in_the_sdk() -> None:
    # databricks-sdk 0.167 GetMetastoreSummaryResponse: `owner` tells who is a metastore admin (bulk reads)
    assert {"metastore_id", "name", "owner", "privilege_model_version"} <= set(
        fixture("metastore_summary")["sdk_fields"]
    )


def test_no_metastore_assigned_is_read_as_none() -> None:
    # databricks/terraform-provider-databricks exporter_test.go: 404 NOT_FOUND when no metastore is assigned
    mock = fixture("metastore_summary")["terraform_mock_no_metastore"]
    answer = (mock["status"], {"error_code": mock["error_code"], "message": mock["message"]})
    rest = replay_client(
        {f"{UC}/current-metastore-assignment": answer, f"{UC}/metastore_summary": answer},
    )
    assert read_metastore(rest) is None


def test_a_storage_credential_reads_its_iam_role() -> None:
    # cartography-cncf/cartography test data DATABRICKS_STORAGE_CREDENTIALS (code-index file id 55761883550)
    item = fixture("storage_credentials")["list_items"][0]
    rest = replay_client({f"{UC}/storage-credentials/{item['name']}": (200, item)})

    credential = read_storage_credential(rest, item["name"])

    assert credential is not None
    assert (credential.name, credential.owner, credential.read_only) == (item["name"], "<owner-email>", False)
    role = item["aws_iam_role"]
    assert credential.aws_role_arn == role["role_arn"]
    assert credential.aws_external_id == role["external_id"]
    assert credential.unity_catalog_iam_arn == role["unity_catalog_iam_arn"]


# ---- IAM --------------------------------------------------------------------------------------------------------


def test_get_role_takes_the_name_the_collector_derives_from_the_arn() -> None:
    # botocore 1.44.18 IAM model: GetRoleRequest {RoleName} only, roleNameType pattern [\w+=,.@-]+ (no ':' or '/')
    body = fixture("iam_get_role")
    pattern = re.compile(body["request_shape"]["roleNameType"]["pattern"])
    arn = body["output"]["Role"]["Arn"]
    assert role_name(arn) == body["input"]["RoleName"]
    assert pattern.fullmatch(role_name(arn)) and not pattern.fullmatch(arn)


def test_a_trust_policy_that_does_not_decode_is_kept_raw_with_the_reason() -> None:
    # same example: AssumeRolePolicyDocument is "<URL-encoded-JSON>" (a placeholder, not a policy)
    role = fixture("iam_get_role")["output"]["Role"]
    policy = trust_policy_fact(role["Arn"], role["AssumeRolePolicyDocument"])
    assert policy.document is None and policy.raw == "<URL-encoded-JSON>" and policy.decode_error


# ---- errors -----------------------------------------------------------------------------------------------------


def test_a_real_unity_catalog_403_body_is_not_visible() -> None:
    # Azure/spark-cdm-connector issue #149: a real PERMISSION_DENIED body from the Unity Catalog REST API
    denied = fixture("uc_rest_error_permission_denied")
    rest = replay_client({f"{UC}/schemas/icebase.telemetry": (denied["http_status"], denied["body"])})
    with pytest.raises(NotVisible, match=r"HTTP 403"):
        read_securable(rest, SecurableType.SCHEMA, "icebase.telemetry")


def test_a_missing_catalog_message_over_rest_is_read_as_absent() -> None:
    # databricks/terraform-provider-databricks issue #1217: "Catalog 'hive_metastore' does not exist." (HTTP 404;
    # the error_code was not captured, and the SDK maps 404 by status whatever the code)
    entry = fixture("uc_not_found_errors")["entries"][0]
    rest = replay_client({f"{UC}/catalogs/hive_metastore": (404, {"message": entry["message"]})})
    assert read_securable(rest, SecurableType.CATALOG, "hive_metastore") is None


@pytest.mark.parametrize(
    ("message", "outcome"),
    [
        # docs error class TABLE_OR_VIEW_NOT_FOUND (42P01); dbt-spark / dbt-databricks not-found strings
        ("[TABLE_OR_VIEW_NOT_FOUND] The table or view <relationName> cannot be found.", ObjectNotFound),
        ("[SCHEMA_NOT_FOUND] The schema `x` cannot be found.", ObjectNotFound),
        # databricks-apps-cookbook issue #18
        ("[INSUFFICIENT_PERMISSIONS] Insufficient privileges: User does not have USE CATALOG on Catalog", NotVisible),
    ],
)
def test_sql_error_classes_of_the_fixture(message: str, outcome: type[Exception]) -> None:
    assert isinstance(translate_sql_error(Exception(message)), outcome)


@pytest.mark.parametrize(
    "message",
    [
        # dbdemos issue #74: the class without brackets
        "PERMISSION_DENIED: User does not have USE CATALOG on Catalog '__databricks_internal'.",
        # dbt-spark TABLE_OR_VIEW_NOT_FOUND_MESSAGES: older runtimes' text without an error class
        "Table or view not found: sales.orders",
    ],
)
def test_sql_errors_without_a_bracketed_class_are_failures_never_absence(message: str) -> None:
    failure = translate_sql_error(Exception(message))
    assert isinstance(failure, ReadFailure) and not isinstance(failure, ObjectNotFound)


# ---- SCIM -------------------------------------------------------------------------------------------------------


def test_scim_me_listing_users_resolves_the_builtin_group_once() -> None:
    # databrickslabs/ucx tests/unit/framework/test_owners.py: a user whose groups list `users` (Groups/2)
    body = fixture("scim_user_groups")
    me = {"id": "100", **body["user_not_admin"]}
    rest = replay_client({f"{SCIM}/Me": (200, me), f"{SCIM}/Groups/2": (200, body["users_group"])})

    identity = read_me(rest, ScimDirectory(rest))

    assert identity.name == "not_admin_1"
    assert identity.resolved.principal.kind is PrincipalKind.USER
    assert identity.groups == (USERS_GROUP,)  # Groups/3 is not recorded: read as deleted since
    [users] = identity.resolved.groups
    assert not users.account_level  # meta.resourceType WorkspaceGroup


def test_a_non_admin_that_cannot_read_groups_keeps_the_memberships_me_lists() -> None:
    # same fixture, the admin user: Groups/{id} refused (non-admin), the direct groups of the record remain
    body = fixture("scim_user_groups")
    rest = replay_client({f"{SCIM}/Me": (200, {"id": "101", **body["user_admin"]}), f"{SCIM}/Groups/1": FORBIDDEN})

    identity = read_me(rest, ScimDirectory(rest))

    assert identity.resolved.groups == ()
    assert {(m.member, m.group) for m in identity.resolved.memberships} == {
        ("admin_2", "admins"),
        ("admin_2", USERS_GROUP),
    }


def test_a_service_principal_record_is_named_by_its_application_id_and_is_in_users() -> None:
    # docs.databricks.com/api/scim/v1/get-service-principal (documented attributes, example displayName) and the
    # UCX `users` group (scim_user_groups.json): SCIM does not list `users` here, the collector adds it
    record = fixture("scim_service_principal")["response"]
    users = fixture("scim_user_groups")["users_group"]
    group = {"id": "3", "displayName": "data-engineers", "meta": {"resourceType": "Group"}}
    rest = replay_client(
        {
            f"{SCIM}/ServicePrincipals": (200, {"totalResults": 1, "Resources": [record]}),
            f"{SCIM}/Groups": (200, {"totalResults": 1, "Resources": [users]}),
            f"{SCIM}/Groups/2": (200, users),
            f"{SCIM}/Groups/3": (200, group),
        }
    )

    resolved = ScimDirectory(rest).resolve(record["applicationId"])

    assert resolved is not None
    principal = resolved.principal
    assert (principal.name, principal.kind) == (record["applicationId"], PrincipalKind.SERVICE_PRINCIPAL)
    assert (principal.scim_id, principal.display_name, principal.active) == (record["id"], "etl-service", True)
    assert principal.entitlements == ("databricks-sql-access",)
    assert {(m.member, m.group) for m in resolved.memberships} == {
        (record["applicationId"], "data-engineers"),
        (record["applicationId"], USERS_GROUP),
    }


def test_the_service_principal_fixture_holds_every_documented_attribute_the_collector_reads() -> None:
    body = fixture("scim_service_principal")
    read = {"applicationId", "displayName", "active", "entitlements", "groups", "id"}  # principal_from, grant_name
    assert read <= set(body["documented_attributes"]) and read <= set(body["response"])
    assert {"display", "type", "value"} <= set(body["documented_complex_value_attributes"])
