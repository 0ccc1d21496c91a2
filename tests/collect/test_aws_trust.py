"""Trust policies through boto3 against moto's server (the sandbox's IAM), with the target's AWS settings."""

from __future__ import annotations

import socket

import pytest

from auditor.collect.aws_trust import IamReader
from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.http import RetryPolicy
from auditor.collect.interface import ReadFailed
from auditor.settings import AwsSettings
from auditor_sandbox import Sandbox
from tests.collect.conftest import ROLE, target_for


def reader(aws: AwsSettings) -> IamReader:
    return IamReader(aws, RetryPolicy(max_retries=1, request_timeout_seconds=5), Deadline(20), CostMeter())


def test_reads_and_decodes_the_trust_policy(healthy: Sandbox) -> None:
    aws = target_for(healthy).aws
    assert aws is not None
    iam = reader(aws)

    policy = iam.read(ROLE)

    assert policy is not None and policy.role_arn == ROLE
    assert policy.document is not None and policy.decode_error is None
    principals = policy.document["Statement"][0]["Principal"]["AWS"]
    assert "arn:aws:iam::595280932656:role/segment-storage-destinations-production-access" in principals
    assert iam.read("arn:aws:iam::123456789012:role/not-there") is None  # read, and absent (in the caller's account)
    assert iam.meter.requests("iam") == 3  # two GetRole, one GetCallerIdentity


def test_assumes_the_configured_role_first(healthy: Sandbox) -> None:
    aws = target_for(healthy).aws
    assert aws is not None
    iam = reader(aws.model_copy(update={"assume_role_arn": ROLE}))

    assert iam.read(ROLE) is not None
    assert iam.meter.requests("iam") == 2  # sts:AssumeRole, then iam:GetRole


def test_an_unreachable_endpoint_is_a_failed_read() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    aws = AwsSettings(endpoint_url=f"http://127.0.0.1:{port}", access_key_id="AKIDEXAMPLE", secret_access_key="x")

    with pytest.raises(ReadFailed, match="cannot connect"):
        reader(aws).read(ROLE)


def test_not_a_role_arn_is_a_failed_read() -> None:
    with pytest.raises(ReadFailed, match="not an IAM role ARN"):
        reader(AwsSettings()).read("arn:aws:iam::1:user/alice")


OTHER_ACCOUNT_ROLE = ROLE.replace(":123456789012:", ":999999999999:")


def test_a_same_named_role_in_the_credentials_account_is_not_evaluated(healthy: Sandbox) -> None:
    # GetRole takes a bare name and answers from the caller's account (issue 9 item 3): the sandbox holds a role
    # named like ROLE in account 123456789012, while the configured ARN names account 999999999999.
    aws = target_for(healthy).aws
    assert aws is not None and OTHER_ACCOUNT_ROLE != ROLE

    with pytest.raises(ReadFailed, match=r"role is in account 999999999999 .*credentials are for account 123456789012"):
        reader(aws).read(OTHER_ACCOUNT_ROLE)


def test_a_role_missing_from_the_credentials_account_is_not_called_absent(healthy: Sandbox) -> None:
    aws = target_for(healthy).aws
    assert aws is not None

    with pytest.raises(ReadFailed, match="role is in account 999999999999"):
        reader(aws).read("arn:aws:iam::999999999999:role/not-there")
