"""IAM role trust policies through boto3 (``iam:GetRole``), with the target's AWS settings.

botocore normally decodes the URL-encoded ``AssumeRolePolicyDocument`` into a dict; when it cannot, it
hands back the raw string. Such a string gets one more decoding attempt (`decode_policy`: JSON, then
URL-encoded JSON); if that fails too the policy is recorded with ``document=None`` and the reason, and the trust rule
reports an error, never a pass. A role that does not exist is "read and absent".
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.http import RetryPolicy
from auditor.collect.interface import NotVisible, ObjectNotFound, ReadFailed, ReadFailure
from auditor.model.facts import TrustPolicy
from auditor.privileges.iam_policy import PolicyDecodeError, decode_policy
from auditor.settings import AwsSettings

_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "InvalidClientTokenId"})
_THROTTLED = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})


def role_name(role_arn: str) -> str:
    """``arn:aws:iam::123:role/path/name`` -> ``name`` (GetRole takes the name without its path)."""
    resource = role_arn.split(":", 5)[-1]
    if not resource.startswith("role/"):
        raise ReadFailed(f"not an IAM role ARN: {role_arn}", api_family="iam")
    return resource.rsplit("/", 1)[-1]


def trust_policy_fact(role_arn: str, document: Any) -> TrustPolicy:
    """A ``AssumeRolePolicyDocument`` as read: decoded when possible, else kept raw with the reason."""
    try:
        return TrustPolicy(role_arn=role_arn, document=decode_policy(document))
    except PolicyDecodeError as exc:
        raw = document if isinstance(document, str) else json.dumps(document, default=str)
        return TrustPolicy(role_arn=role_arn, raw=raw, decode_error=str(exc))


def _partition_account(arn: str) -> tuple[str, str]:
    """``arn:aws:iam::123:role/x`` -> ``("aws", "123")``."""
    parts = arn.split(":", 5)
    return (parts[1], parts[4]) if len(parts) == 6 else ("?", "?")


@dataclass
class IamReader:
    """Reads trust policies with one boto3 IAM client (built lazily, once)."""

    aws: AwsSettings
    policy: RetryPolicy
    deadline: Deadline
    meter: CostMeter
    _client: Any = None
    _sts: Any = None
    _caller_arn: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def identity(self) -> str:
        """Who reads AWS, for "not visible to ..." reasons."""
        return self.aws.assume_role_arn or (
            f"AWS profile {self.aws.profile}" if self.aws.profile else "the AWS credentials"
        )

    def read(self, role_arn: str) -> TrustPolicy | None:
        """The role's trust policy; None if the role does not exist in the account its ARN names.

        ``GetRole`` takes a bare name and answers from the credentials' own account, so the returned ``Arn`` is
        compared with the configured one: a same-named role in another account is never evaluated, and "no such
        role" only means absent when the credentials are for the role's account.
        """
        name = role_name(role_arn)
        try:
            role = self.client().get_role(RoleName=name)["Role"]
        except Exception as exc:
            failure = self.translate(exc)
            if isinstance(failure, ObjectNotFound):
                self._require_same_account(role_arn, self.caller_arn())
                return None
            raise failure from None
        self._require_same_account(role_arn, str(role.get("Arn", "")))
        return trust_policy_fact(role_arn, role.get("AssumeRolePolicyDocument"))

    def caller_arn(self) -> str:
        """Who the IAM client reads as (``sts:GetCallerIdentity``), read once."""
        self.client()  # builds the STS client of the same session
        with self._lock:
            if self._caller_arn is None:
                try:
                    self._caller_arn = str(self._sts.get_caller_identity()["Arn"])
                except Exception as exc:
                    raise self.translate(exc) from None
            return self._caller_arn

    @staticmethod
    def _require_same_account(role_arn: str, read_arn: str) -> None:
        wanted, got = _partition_account(role_arn), _partition_account(read_arn)
        if wanted != got:
            raise ReadFailed(
                f"role is in account {wanted[1]} ({wanted[0]}), credentials are for account {got[1]} ({got[0]}); "
                "configure aws.assume_role_arn to a role in the role's account",
                api_family="iam",
            )

    def client(self) -> Any:
        """The IAM client (assuming the configured role first, if any)."""
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def _build(self) -> Any:
        timeout = max(0.5, self.deadline.bound(self.policy.request_timeout_seconds))
        config = botocore.config.Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": self.policy.max_retries + 1, "mode": "standard"},
        )
        secret = self.aws.secret_access_key.get_secret_value() if self.aws.secret_access_key else None
        try:
            session = boto3.session.Session(
                profile_name=self.aws.profile,
                aws_access_key_id=self.aws.access_key_id,
                aws_secret_access_key=secret,
                region_name=self.aws.region,
            )
            if self.aws.assume_role_arn:
                sts = session.client("sts", endpoint_url=self.aws.endpoint_url, config=config)
                self._observe(sts)
                credentials = sts.assume_role(RoleArn=self.aws.assume_role_arn, RoleSessionName="grants-auditor")[
                    "Credentials"
                ]
                session = boto3.session.Session(
                    aws_access_key_id=credentials["AccessKeyId"],
                    aws_secret_access_key=credentials["SecretAccessKey"],
                    aws_session_token=credentials["SessionToken"],
                    region_name=self.aws.region,
                )
            client = session.client("iam", endpoint_url=self.aws.endpoint_url, config=config)
            self._sts = session.client("sts", endpoint_url=self.aws.endpoint_url, config=config)
        except Exception as exc:
            raise self.translate(exc) from None
        self._observe(client)
        self._observe(self._sts)
        return client

    def _observe(self, client: Any) -> None:
        """Count every HTTP attempt (retries included) and refuse to send after the deadline."""

        def before_send(**_: Any) -> None:
            if self.deadline.expired():
                raise ReadFailed("deadline exceeded", api_family="iam")
            self.meter.request("iam")

        client.meta.events.register("before-send", before_send)

    def translate(self, exc: Exception) -> Exception:
        """A boto3/botocore error as a read failure (or `ObjectNotFound` for NoSuchEntity)."""
        if isinstance(exc, ReadFailure):
            return exc
        if isinstance(exc, botocore.exceptions.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code == "NoSuchEntity":
                return ObjectNotFound(code)
            if code in _DENIED:
                return NotVisible(code, identity=self.identity, api_family="iam")
            if code in _THROTTLED:
                return ReadFailed(f"AWS throttled the request ({code}) after retries", api_family="iam")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return ReadFailed(f"AWS request failed: {code or 'error'} (HTTP {status})", api_family="iam")
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return ReadFailed("no AWS credentials configured", api_family="iam")
        if isinstance(exc, botocore.exceptions.ProfileNotFound):
            return ReadFailed(f"AWS profile {self.aws.profile} not found", api_family="iam")
        if isinstance(exc, botocore.exceptions.ConnectTimeoutError | botocore.exceptions.ReadTimeoutError):
            return ReadFailed("AWS request timed out", api_family="iam")
        if isinstance(exc, botocore.exceptions.EndpointConnectionError):
            return ReadFailed("cannot connect to the AWS endpoint", api_family="iam")
        return ReadFailed(f"AWS request failed: {type(exc).__name__}", api_family="iam")
