"""AWS IAM through boto3 against moto's server: the scenario's roles, private to each sandbox."""

from __future__ import annotations

import json

from auditor_sandbox import Sandbox
from tests.sandbox.clients import ACCOUNT, NOW

ROLE = "segment-lake-role"
PRINCIPALS = [
    "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL",
    "arn:aws:iam::123456789012:role/segment-lake-role",
    "arn:aws:iam::595280932656:role/segment-storage-destinations-production-access",
]


def _external_ids(sb: Sandbox) -> list[str]:
    document = sb.iam_client().get_role(RoleName=ROLE)["Role"]["AssumeRolePolicyDocument"]
    external_ids: list[str] = document["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"]
    return external_ids


def test_healthy_role_has_the_documented_trust_policy(healthy: Sandbox) -> None:
    role = healthy.iam_client().get_role(RoleName=ROLE)["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/segment-lake-role"
    [statement] = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
    assert statement["Principal"]["AWS"] == PRINCIPALS
    assert _external_ids(healthy) == [ACCOUNT, "Wk5pQxR2aB"]


def test_two_live_sandboxes_keep_their_own_iam(fresh: Sandbox) -> None:
    with Sandbox.start("drifted", now=NOW) as drifted:
        assert _external_ids(fresh) == [ACCOUNT, "Wk5pQxR2aB"]
        assert _external_ids(drifted) == [ACCOUNT]
        changed = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": PRINCIPALS[0]}, "Action": "sts:AssumeRole"}],
        }
        drifted.iam_client().update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps(changed))
        drifted.iam_client().create_role(RoleName="extra", AssumeRolePolicyDocument=json.dumps(changed))
        assert _external_ids(fresh) == [ACCOUNT, "Wk5pQxR2aB"]
        assert [r["RoleName"] for r in fresh.iam_client().list_roles()["Roles"]] == [ROLE]
        assert sorted(r["RoleName"] for r in drifted.iam_client().list_roles()["Roles"]) == ["extra", ROLE]
    with Sandbox.start("drifted", now=NOW) as again:  # a new sandbox starts from its scenario again
        assert _external_ids(again) == [ACCOUNT]
