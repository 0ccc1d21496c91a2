"""Pure parsing and bookkeeping: data in, facts out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from auditor.collect.aws_trust import role_name, trust_policy_fact
from auditor.collect.credentials import epoch_ms, rfc3339
from auditor.collect.http import api_family, parse_retry_after
from auditor.collect.interface import FactSink, NotVisible, ReadFailed, ReadFailure
from auditor.collect.rest_grants import parse_privilege_assignments
from auditor.collect.sql_grants import (
    PRIVILEGE_VIEWS,
    parse_show_grants,
    show_grants_statement,
)
from auditor.collect.warehouses import parse_acl
from auditor.model.facts import FactFamily, Grant, PrincipalKind, ReadState, SecurableType
from auditor.privileges.names import lineage, split_quoted_name

T = SecurableType


def grants(result: list[Grant]) -> set[tuple[str, str, str, str]]:
    return {(g.securable_type.value, g.securable_name, g.principal, g.privilege) for g in result}


def test_hive_metastore_show_grants_rows() -> None:
    rows: list[dict[str, Any]] = [
        {"principal": "my-group", "actiontype": "USAGE", "objecttype": "CATALOG$", "objectkey": None},
        {"principal": "admins", "actiontype": "OWN", "objecttype": "DATABASE", "objectkey": "sales"},
        {"principal": "sp", "actiontype": "READ_METADATA", "objecttype": "DATABASE", "objectkey": "sales"},
        {
            "principal": "sp",
            "actiontype": "ALL PRIVILEGES",
            "objecttype": "TABLE",
            "objectkey": "`sales`.`orders`",
        },
    ]

    result = parse_show_grants(rows, T.TABLE, "hive_metastore.sales.orders")

    assert grants(result.grants) == {
        ("CATALOG", "hive_metastore", "my-group", "USAGE"),
        ("SCHEMA", "hive_metastore.sales", "sp", "READ_METADATA"),
        ("TABLE", "hive_metastore.sales.orders", "sp", "ALL_PRIVILEGES"),
    }
    assert result.owners == {(T.SCHEMA, "hive_metastore.sales"): "admins"}


def test_unity_catalog_show_grants_rows_keep_inherited_grants_on_the_parent() -> None:
    rows = [
        {
            "principal": "alice@corp.com",
            "actiontype": "USE CATALOG",
            "objecttype": "CATALOG",
            "objectkey": "main",
        },
        {"principal": "sp", "actiontype": "SELECT", "objecttype": "TABLE", "objectkey": "main.s.t"},
        {
            "principal": "sp",
            "actiontype": "BRAND NEW PRIVILEGE",
            "objecttype": "SCHEMA",
            "objectkey": "main.s",
        },
        {
            "principal": "sp",
            "actiontype": "READ FILES",
            "objecttype": "EXTERNAL LOCATION",
            "objectkey": "loc-1",
        },
        {"principal": "x", "actiontype": "USE", "objecttype": "SOMETHING NEW", "objectkey": "k"},
    ]

    result = parse_show_grants(rows, T.TABLE, "main.s.t")

    assert grants(result.grants) == {
        ("CATALOG", "main", "alice@corp.com", "USE_CATALOG"),
        ("TABLE", "main.s.t", "sp", "SELECT"),
        ("SCHEMA", "main.s", "sp", "BRAND_NEW_PRIVILEGE"),  # unknown privileges are kept, not dropped
        ("EXTERNAL_LOCATION", "loc-1", "sp", "READ_FILES"),
    }


def test_show_grants_statements_quote_what_needs_quoting() -> None:
    assert show_grants_statement(T.CATALOG, "main") == "SHOW GRANTS ON CATALOG main"
    assert show_grants_statement(T.TABLE, "main.my schema.t`1") == "SHOW GRANTS ON TABLE main.`my schema`.`t``1`"
    assert show_grants_statement(T.EXTERNAL_LOCATION, "a.b-c") == "SHOW GRANTS ON EXTERNAL LOCATION `a.b-c`"
    assert show_grants_statement(T.METASTORE, "") == "SHOW GRANTS ON METASTORE"
    assert split_quoted_name("`a`.`b.c`.d") == ["a", "b.c", "d"]
    assert split_quoted_name("`we``ird`") == ["we`ird"]


def test_privilege_views_filter_direct_grants_of_the_watched_catalogs() -> None:
    catalogs, schemas, tables = PRIVILEGE_VIEWS

    statement = tables.statement(["Segment_Profiles", "crm", "it's"])

    assert statement == (
        "SELECT grantee, table_catalog, table_schema, table_name, privilege_type "
        "FROM system.information_schema.table_privileges "
        "WHERE lower(table_catalog) IN ('crm', 'it\\'s', 'segment_profiles') "
        "AND coalesce(inherited_from, 'NONE') = 'NONE'"
    )
    rows = [{"grantee": "g", "catalog_name": "c", "schema_name": "s", "privilege_type": "USE_SCHEMA"}]
    assert grants(schemas.grants(rows)) == {("SCHEMA", "c.s", "g", "USE_SCHEMA")}
    assert catalogs.grants([{"grantee": None, "catalog_name": "c", "privilege_type": "X"}]) == []


def test_rest_privilege_assignments_direct_and_effective_forms() -> None:
    items: list[dict[str, Any]] = [
        {"principal": "sp", "privileges": ["USE_CATALOG", "SOME_FUTURE_PRIV"]},
        {
            "principal": "grp",
            "privileges": [
                {"privilege": "SELECT"},
                {"privilege": "USE_CATALOG", "inherited_from_type": "CATALOG", "inherited_from_name": "main"},
            ],
        },
        {"principal": "", "principal_id": 42, "privileges": ["SELECT"]},  # a deleted principal
    ]

    result = parse_privilege_assignments(items, T.SCHEMA, "main.s")

    assert grants(result) == {
        ("SCHEMA", "main.s", "sp", "USE_CATALOG"),
        ("SCHEMA", "main.s", "sp", "SOME_FUTURE_PRIV"),
        ("SCHEMA", "main.s", "grp", "SELECT"),
        ("CATALOG", "main", "grp", "USE_CATALOG"),
    }


def test_acl_entries_keep_every_level_verbatim() -> None:
    payload = {
        "access_control_list": [
            {
                "user_name": "a@x.com",
                "all_permissions": [{"permission_level": "IS_OWNER", "inherited": False}],
            },
            {
                "group_name": "admins",
                "all_permissions": [
                    {
                        "permission_level": "CAN_MANAGE",
                        "inherited": True,
                        "inherited_from_object": ["/sql/warehouses/"],
                    },
                    {"permission_level": "CAN_TELEPORT"},
                ],
            },
            {"service_principal_name": "app-id", "permission_level": "CAN_USE"},
            {"display_name": "nobody"},
        ]
    }

    entries = {
        (e.principal, e.principal_kind, e.permission_level, e.inherited, e.inherited_from) for e in parse_acl(payload)
    }

    assert entries == {
        ("a@x.com", PrincipalKind.USER, "IS_OWNER", False, None),
        ("admins", PrincipalKind.GROUP, "CAN_MANAGE", True, "/sql/warehouses/"),
        ("admins", PrincipalKind.GROUP, "CAN_TELEPORT", False, None),
        ("app-id", PrincipalKind.SERVICE_PRINCIPAL, "CAN_USE", False, None),
    }


@pytest.mark.parametrize(("value", "expected"), [(-1, None), (0, None), (None, None), ("junk", None)])
def test_epoch_ms_never_expires(value: object, expected: object) -> None:
    assert epoch_ms(value) is expected


def test_times() -> None:
    assert epoch_ms(1_748_779_200_000) == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert rfc3339("2026-01-01T00:00:00Z") == datetime(2026, 1, 1, tzinfo=UTC)
    assert rfc3339(None) is None and rfc3339("not a time") is None


def test_trust_policy_documents() -> None:
    arn = "arn:aws:iam::1:role/path/segment-lake-role"
    assert role_name(arn) == "segment-lake-role"

    decoded = trust_policy_fact(arn, {"Version": "2012-10-17", "Statement": []})
    assert decoded.document is not None and decoded.decode_error is None

    encoded = trust_policy_fact(arn, "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D")
    assert encoded.document == {"Version": "2012-10-17", "Statement": []}

    for raw in ("%7Bnot%20json", "%5B%5D"):
        broken = trust_policy_fact(arn, raw)
        assert broken.document is None
        assert broken.raw == raw and broken.decode_error

    # plain JSON is decoded as it is, never URL-decoded first (a literal "%41" stays "%41")
    plain = trust_policy_fact(arn, '{"Version": "2012-10-17", "Statement": [{"Sid": "a%41b"}]}')
    assert plain.document == {"Version": "2012-10-17", "Statement": [{"Sid": "a%41b"}]}


def test_retry_after_and_api_families() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 01 Jun 2025 12:00:30 GMT", now=now) == 30.0
    assert api_family("/api/2.1/unity-catalog/permissions/catalog/main") == "unity-catalog"
    assert api_family("/api/2.0/permissions/authorization/tokens") == "permissions"
    assert api_family("/api/2.0/accounts/servicePrincipals/7/credentials/secrets") == "secrets"
    assert api_family("/oidc/v1/token") == "metadata"


def test_ancestors() -> None:
    assert lineage(T.TABLE, "c.s.t") == [(T.TABLE, "c.s.t"), (T.SCHEMA, "c.s"), (T.CATALOG, "c")]
    assert lineage(T.SCHEMA, "c.s") == [(T.SCHEMA, "c.s"), (T.CATALOG, "c")]
    assert lineage(T.EXTERNAL_LOCATION, "a.b") == [(T.EXTERNAL_LOCATION, "a.b")]


def test_sink_keeps_the_worse_status_renders_reasons_and_seals() -> None:
    sink = FactSink()
    grant = Grant(principal="p", privilege="SELECT", securable_type=T.CATALOG, securable_name="Main", source="sql")
    twin = dataclasses.replace(grant, securable_name="main", source="information_schema")
    sink.commit(FactFamily.GRANTS, "CATALOG:main", grants=[grant])
    sink.commit(FactFamily.GRANTS, "watch:main", grants=[twin])
    sink.fail(FactFamily.TOKENS, "*", NotVisible("HTTP 403"))
    sink.commit(FactFamily.TOKENS, "*")  # a late READ never hides a failure
    failure: ReadFailure = ReadFailed("deadline exceeded")
    sink.seal([(FactFamily.TOKENS, "*"), (FactFamily.METASTORE, "*")], failure)
    sink.commit(FactFamily.METASTORE, "*")  # after the seal: ignored

    fields = sink.snapshot_fields("app-id")

    reads = {(s.family, s.scope): s for s in fields["reads"]}
    assert reads[(FactFamily.TOKENS, "*")].state is ReadState.NOT_VISIBLE
    assert reads[(FactFamily.TOKENS, "*")].reason == "not visible to app-id (HTTP 403)"
    assert reads[(FactFamily.METASTORE, "*")].reason == "deadline exceeded"
    assert fields["grants"] == (grant,)  # one grant whichever surface reported it
