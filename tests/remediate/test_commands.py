"""CLI / REST fixes: exact argv after shlex and bash, JSON bodies, and the same request as databricks-sdk."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from databricks.sdk import AccountClient, WorkspaceClient
from databricks.sdk.service import iam, settings, sql
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from auditor.model.facts import PrincipalKind
from auditor.remediate.commands import (
    ProposedCall,
    acl_principal_key,
    add_entitlements,
    create_oauth_secret,
    create_obo_token,
    delete_oauth_secret,
    delete_token,
    enable_personal_access_tokens,
    set_workspace_conf,
    token_usage_permission,
    warehouse_permission,
)

from .conftest import RecordedRequest, Recorder

PROPERTY = hypothesis_settings(derandomize=True, database=None, deadline=None, max_examples=150)
JSON_FLAGS = ("--json", "--data-raw")
SCIM_PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass(frozen=True)
class Values:
    principal: str
    kind: PrincipalKind
    warehouse_id: str
    scim_id: str
    application_id: str
    token_id: str
    secret_id: str
    comment: str


@dataclass(frozen=True)
class Case:
    name: str
    call: ProposedCall
    cli: list[Any]  # argv, with the JSON argument as the decoded object
    curl: list[Any]


def curl_argv(method: str, path: str, body: Any = None) -> list[Any]:
    argv: list[Any] = ["curl", "-sS", "-X", method, "$DATABRICKS_HOST" + path]
    argv += ["-H", "Authorization: Bearer $DATABRICKS_TOKEN"]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-raw", body]
    return argv


def enc(value: str) -> str:
    return quote(value, safe="")


def cases(v: Values) -> list[Case]:
    """Every builder with the argv it must produce, written out independently of the code under test."""
    acl = {"access_control_list": [{acl_principal_key(v.kind): v.principal, "permission_level": "CAN_USE"}]}
    entitlements = {
        "schemas": [SCIM_PATCH],
        "Operations": [
            {
                "op": "add",
                "path": "entitlements",
                "value": [{"value": "databricks-sql-access"}, {"value": "allow-cluster-create"}],
            }
        ],
    }
    scim = {
        PrincipalKind.USER: ("users", "Users"),
        PrincipalKind.GROUP: ("groups", "Groups"),
        PrincipalKind.SERVICE_PRINCIPAL: ("service-principals", "ServicePrincipals"),
    }[v.kind]
    secrets = f"/api/2.0/accounts/servicePrincipals/{enc(v.scim_id)}/credentials/secrets"
    account_secrets = f"/api/2.0/accounts/$DATABRICKS_ACCOUNT_ID/servicePrincipals/{enc(v.scim_id)}/credentials/secrets"
    obo = {"application_id": v.application_id, "comment": v.comment, "lifetime_seconds": 7776000}
    return [
        Case(
            "warehouse",
            warehouse_permission(v.warehouse_id, v.principal, v.kind),
            ["databricks", "warehouses", "update-permissions", v.warehouse_id, "--json", acl],
            curl_argv("PATCH", f"/api/2.0/permissions/warehouses/{enc(v.warehouse_id)}", acl),
        ),
        Case(
            "token-usage",
            token_usage_permission(v.principal, v.kind),
            ["databricks", "token-management", "update-permissions", "--json", acl],
            curl_argv("PATCH", "/api/2.0/permissions/authorization/tokens", acl),
        ),
        Case(
            "entitlements",
            add_entitlements(
                v.scim_id, v.kind, ["databricks-sql-access", "allow-cluster-create", "databricks-sql-access"]
            ),
            ["databricks", scim[0], "patch", v.scim_id, "--json", entitlements],
            curl_argv("PATCH", f"/api/2.0/preview/scim/v2/{scim[1]}/{enc(v.scim_id)}", entitlements),
        ),
        Case(
            "enable-tokens",
            enable_personal_access_tokens(),
            ["databricks", "workspace-conf", "set-status", "--json", {"enableTokensConfig": "true"}],
            curl_argv("PATCH", "/api/2.0/workspace-conf", {"enableTokensConfig": "true"}),
        ),
        Case(
            "create-secret",
            create_oauth_secret(v.scim_id, lifetime_seconds=3600),
            ["databricks", "service-principal-secrets-proxy", "create", v.scim_id, "--lifetime", "3600s"],
            curl_argv("POST", secrets, {"lifetime": "3600s"}),
        ),
        Case(
            "create-secret-account",
            create_oauth_secret(v.scim_id, account_level=True),
            ["databricks", "account", "service-principal-secrets", "create", v.scim_id],
            curl_argv("POST", account_secrets, {}),
        ),
        Case(
            "delete-secret",
            delete_oauth_secret(v.scim_id, v.secret_id),
            ["databricks", "service-principal-secrets-proxy", "delete", v.scim_id, v.secret_id],
            curl_argv("DELETE", f"{secrets}/{enc(v.secret_id)}"),
        ),
        Case(
            "delete-secret-account",
            delete_oauth_secret(v.scim_id, v.secret_id, account_level=True),
            ["databricks", "account", "service-principal-secrets", "delete", v.scim_id, v.secret_id],
            curl_argv("DELETE", f"{account_secrets}/{enc(v.secret_id)}"),
        ),
        Case(
            "obo-token",
            create_obo_token(v.application_id, lifetime_seconds=7776000, comment=v.comment),
            [
                "databricks",
                "token-management",
                "create-obo-token",
                v.application_id,
                "--comment",
                v.comment,
                "--lifetime-seconds",
                "7776000",
            ],
            curl_argv("POST", "/api/2.0/token-management/on-behalf-of/tokens", obo),
        ),
        Case(
            "delete-token",
            delete_token(v.token_id),
            ["databricks", "token-management", "delete", v.token_id],
            curl_argv("DELETE", f"/api/2.0/token-management/tokens/{enc(v.token_id)}"),
        ),
    ]


def decode_json_arguments(argv: list[str]) -> list[Any]:
    """argv with the argument after --json / --data-raw parsed as JSON."""
    return [json.loads(arg) if i and argv[i - 1] in JSON_FLAGS else arg for i, arg in enumerate(argv)]


def assert_round_trips(values: Values) -> None:
    for case in cases(values):
        assert decode_json_arguments(shlex.split(case.call.cli)) == case.cli, case.name
        assert decode_json_arguments(shlex.split(case.call.curl)) == case.curl, case.name
        assert case.call.lines == (case.call.cli, case.call.curl)


PLAIN = Values(
    principal="5f1c2c2e-8d7a-4c1e-9a65-0b7f6f1d9e11",
    kind=PrincipalKind.SERVICE_PRINCIPAL,
    warehouse_id="a1b2c3d4e5f6",
    scim_id="1234567890",
    application_id="5f1c2c2e-8d7a-4c1e-9a65-0b7f6f1d9e11",
    token_id="0123abcd",
    secret_id="7788",
    comment="Segment Delta Lake (rotated)",
)
HOSTILE = [
    PLAIN,
    Values("alice@corp.com", PrincipalKind.USER, "wh 1", "12/34", "app?x#y", "tok%20", "s&t", 'it\'s "quoted"'),
    Values(
        "Data 'Engineers'",
        PrincipalKind.GROUP,
        "wh'; rm -rf ~; '",
        "$(id)",
        "`id`",
        "${HOME}",
        "a\\b",
        "$(touch pwned)",
    ),
    Values(
        'x"; curl evil #',
        PrincipalKind.SERVICE_PRINCIPAL,
        "line\nbreak",
        "tab\there",
        "!!",
        "*",
        "?[a]",
        "multi\nline\rcomment",
    ),
    Values("שלום 🔥 \u202e", PrincipalKind.USER, "名前", "é", "x --json", "_-", "a --", "emoji 👩‍💻 \u0000 nul"),
]


@pytest.mark.parametrize("values", HOSTILE, ids=str)
def test_commands_round_trip_through_shlex(values: Values) -> None:
    assert_round_trips(values)


def test_plain_commands_read_as_expected() -> None:
    call = warehouse_permission("abc123", "segment-sp-app-id", PrincipalKind.SERVICE_PRINCIPAL)
    assert call.cli == (
        "databricks warehouses update-permissions abc123 --json "
        """'{"access_control_list":[{"service_principal_name":"segment-sp-app-id","permission_level":"CAN_USE"}]}'"""
    )
    assert call.curl == (
        'curl -sS -X PATCH "$DATABRICKS_HOST/api/2.0/permissions/warehouses/abc123" '
        '-H "Authorization: Bearer $DATABRICKS_TOKEN" '
        "-H 'Content-Type: application/json' --data-raw "
        """'{"access_control_list":[{"service_principal_name":"segment-sp-app-id","permission_level":"CAN_USE"}]}'"""
    )
    assert (
        enable_personal_access_tokens().cli
        == """databricks workspace-conf set-status --json '{"enableTokensConfig":"true"}'"""
    )


def test_acl_key_follows_the_principal_kind() -> None:
    assert acl_principal_key(PrincipalKind.SERVICE_PRINCIPAL) == "service_principal_name"
    assert acl_principal_key(PrincipalKind.GROUP) == "group_name"
    assert acl_principal_key("user") == "user_name"


def test_json_arguments_are_ascii_and_single_line() -> None:
    call = warehouse_permission("wh", "名前\n\u202e🔥", PrincipalKind.GROUP)
    json_argument = shlex.split(call.cli)[-1]
    assert json_argument.isascii() and "\n" not in json_argument
    assert json.loads(json_argument)["access_control_list"][0]["group_name"] == "名前\n\u202e🔥"


@pytest.mark.parametrize(
    "build",
    [
        lambda: warehouse_permission("-x", "p", PrincipalKind.USER),
        lambda: warehouse_permission("", "p", PrincipalKind.USER),
        lambda: warehouse_permission("wh", "", PrincipalKind.USER),
        lambda: warehouse_permission("wh", "p", PrincipalKind.USER, "CAN_USE; x"),
        lambda: warehouse_permission("wh", "p", "robot"),
        lambda: add_entitlements("1", PrincipalKind.USER, []),
        lambda: add_entitlements("--json", PrincipalKind.USER, ["databricks-sql-access"]),
        lambda: create_oauth_secret("1", lifetime_seconds=0),
        lambda: create_obo_token("-app", lifetime_seconds=60),
        lambda: create_obo_token("app", lifetime_seconds=-1),
        lambda: delete_token("-1"),
        lambda: set_workspace_conf({}),
    ],
)
def test_invalid_requests_are_refused(build: Callable[[], ProposedCall]) -> None:
    with pytest.raises(ValueError):
        build()


def test_wrong_types_are_refused() -> None:
    with pytest.raises(TypeError):
        add_entitlements("1", PrincipalKind.USER, "databricks-sql-access")
    with pytest.raises(TypeError):
        set_workspace_conf({"enableTokensConfig": True})  # type: ignore[dict-item]


def test_no_command_carries_a_token() -> None:
    for case in cases(PLAIN):
        assert "$DATABRICKS_TOKEN" in case.call.curl
        assert "$DATABRICKS_TOKEN" not in case.call.cli
        assert "Bearer $DATABRICKS_TOKEN" in shlex.split(case.call.curl)[6]


# ---- what a real shell makes of them -------------------------------------------------------------

SHELL_ENV = {
    "DATABRICKS_HOST": "https://h.example",
    "DATABRICKS_TOKEN": "tok-sentinel",
    "DATABRICKS_ACCOUNT_ID": "acc-1",
}
SHELL_PRELUDE = 'databricks() { printf "%s\\0" databricks "$@"; }; curl() { printf "%s\\0" curl "$@"; }; '


def run_in_bash(command: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """The argv bash passes to `databricks` / `curl` for ``command`` (both stubbed to print it)."""
    result = subprocess.run(
        ["bash", "-c", SHELL_PRELUDE + command],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "HOME": str(cwd), **env},
        capture_output=True,
        check=True,
        timeout=20,
    )
    return result.stdout.decode().split("\0")[:-1]


def expand_placeholders(argv: list[Any]) -> list[Any]:
    def expand(arg: Any) -> Any:
        if not isinstance(arg, str):
            return arg
        for name, value in SHELL_ENV.items():
            arg = arg.replace("$" + name, value)
        return arg

    return [expand(arg) for arg in argv]


SHELL_SAFE = [v for v in HOSTILE if "\0" not in v.comment]  # a real argv cannot hold NUL
SHELL_SAFE += [
    Values(
        f"$(touch {n}.1)",
        PrincipalKind.USER,
        f"`touch {n}.2`",
        f"';touch {n}.3;'",
        f'";touch {n}.4;"',
        f"$(touch {n}.5)",
        f"x;touch {n}.6",
        f"$(touch {n}.7)",
    )
    for n in ("pwned",)
]


@pytest.mark.parametrize("values", SHELL_SAFE, ids=str)
def test_bash_passes_exactly_the_intended_argv(values: Values, tmp_path: Path) -> None:
    for case in cases(values):
        assert decode_json_arguments(run_in_bash(case.call.cli, tmp_path, SHELL_ENV)) == expand_placeholders(case.cli)
        assert decode_json_arguments(run_in_bash(case.call.curl, tmp_path, SHELL_ENV)) == expand_placeholders(case.curl)
    assert list(tmp_path.iterdir()) == []  # nothing in a name was executed


# ---- the same request as databricks-sdk ----------------------------------------------------------


def sdk_calls(v: Values, w: WorkspaceClient, a: AccountClient) -> dict[str, Callable[[], object]]:
    """The databricks-sdk call each case stands for (the SDK is the reference for the REST shape)."""
    acl_key = acl_principal_key(v.kind)
    operations = [
        iam.Patch(
            op=iam.PatchOp.ADD,
            path="entitlements",
            value=[{"value": "databricks-sql-access"}, {"value": "allow-cluster-create"}],
        )
    ]
    schemas = [iam.PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP]
    scim_apis: dict[PrincipalKind, iam.UsersAPI | iam.GroupsAPI | iam.ServicePrincipalsAPI] = {
        PrincipalKind.USER: w.users,
        PrincipalKind.GROUP: w.groups,
        PrincipalKind.SERVICE_PRINCIPAL: w.service_principals,
    }
    return {
        "warehouse": lambda: w.warehouses.update_permissions(
            v.warehouse_id,
            access_control_list=[
                sql.WarehouseAccessControlRequest(
                    **{acl_key: v.principal}, permission_level=sql.WarehousePermissionLevel.CAN_USE
                )
            ],
        ),
        "token-usage": lambda: w.token_management.update_permissions(
            access_control_list=[
                settings.TokenAccessControlRequest(
                    **{acl_key: v.principal}, permission_level=settings.TokenPermissionLevel.CAN_USE
                )
            ]
        ),
        "entitlements": lambda: scim_apis[v.kind].patch(v.scim_id, operations=operations, schemas=schemas),
        "enable-tokens": lambda: w.workspace_conf.set_status({"enableTokensConfig": "true"}),
        "create-secret": lambda: w.service_principal_secrets_proxy.create(v.scim_id, lifetime="3600s"),
        "create-secret-account": lambda: a.service_principal_secrets.create(v.scim_id),
        "delete-secret": lambda: w.service_principal_secrets_proxy.delete(v.scim_id, v.secret_id),
        "delete-secret-account": lambda: a.service_principal_secrets.delete(v.scim_id, v.secret_id),
        "obo-token": lambda: w.token_management.create_obo_token(
            v.application_id, comment=v.comment, lifetime_seconds=7776000
        ),
        "delete-token": lambda: w.token_management.delete(v.token_id),
    }


def normalised(request: RecordedRequest) -> tuple[str, str, Any]:
    # The SDK omits an empty body ({}) that curl sends; both mean "no fields".
    return request.method, request.path, request.body or None


@pytest.mark.parametrize(
    "values",
    [
        PLAIN,
        Values("alice@corp.com", PrincipalKind.USER, "wh-1", "42", "app-1", "t1", "s1", 'it\'s "quoted" $(id)'),
        Values("Data 'Eng' `x`", PrincipalKind.GROUP, "wh-2", "43", "app-2", "t2", "s2", "名前\n🔥\u202e"),
    ],
    ids=str,
)
def test_curl_sends_the_same_request_as_the_sdk(values: Values, recorder: Recorder, tmp_path: Path) -> None:
    token = "dapi-test-sentinel"
    env = {"DATABRICKS_HOST": recorder.url, "DATABRICKS_TOKEN": token, "DATABRICKS_ACCOUNT_ID": "acc-1"}
    workspace = WorkspaceClient(host=recorder.url, token=token, auth_type="pat")
    account = AccountClient(host=recorder.url, account_id="acc-1", token=token, auth_type="pat")
    calls = sdk_calls(values, workspace, account)
    recorder.take()
    for case in cases(values):
        subprocess.run(
            ["bash", "-c", case.call.curl],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], **env},
            check=True,
            timeout=20,
        )
        (by_curl,) = recorder.take()
        calls[case.name]()
        (by_sdk,) = recorder.take()
        assert normalised(by_curl) == normalised(by_sdk), case.name
        assert by_curl.authorization == f"Bearer {token}"
        if by_curl.body is not None:
            assert by_curl.content_type == "application/json"
    assert set(calls) == {case.name for case in cases(values)}


# ---- generated hostile input ---------------------------------------------------------------------

FRAGMENTS = [
    "'",
    '"',
    "`",
    "$(",
    ")",
    "${",
    "}",
    ";",
    "&",
    "|",
    "\\",
    "\n",
    "\r",
    "\t",
    " ",
    "!",
    "*",
    "?",
    "#",
    "~",
    "%",
    "/",
    "--",
    "\u202e",
    "🔥",
]
hostile_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=8).map("".join)
hostile_id = hostile_text.filter(lambda text: text != "" and not text.startswith("-"))
generated_values = st.builds(
    Values,
    principal=hostile_text.filter(bool),
    kind=st.sampled_from(list(PrincipalKind)),
    warehouse_id=hostile_id,
    scim_id=hostile_id,
    application_id=hostile_id,
    token_id=hostile_id,
    secret_id=hostile_id,
    comment=hostile_text,
)


@PROPERTY
@given(values=generated_values)
def test_generated_commands_round_trip_through_shlex(values: Values) -> None:
    assert_round_trips(values)


@hypothesis_settings(derandomize=True, database=None, deadline=None, max_examples=25)
@given(values=generated_values.filter(lambda v: "\0" not in str(v.__dict__)))
def test_generated_commands_survive_a_real_shell(values: Values, tmp_path_factory: pytest.TempPathFactory) -> None:
    workdir = tmp_path_factory.mktemp("shell")
    for case in cases(values)[:3] + cases(values)[-2:]:
        assert decode_json_arguments(run_in_bash(case.call.cli, workdir, SHELL_ENV)) == expand_placeholders(case.cli)
        assert decode_json_arguments(run_in_bash(case.call.curl, workdir, SHELL_ENV)) == expand_placeholders(case.curl)
    assert list(workdir.iterdir()) == []
