"""OAuth M2M (client credentials) tokens for the SDK and the SQL connector, under the cycle's budget.

The SDK's own ``oauth-m2m`` strategy posts to the token endpoint with module-level ``requests`` (no
timeout) and discovers endpoints through a client with a 300 s retry budget, so one hung endpoint can
stall a cycle far past its deadline. This source does the same exchange (discovery, then
``grant_type=client_credentials`` with HTTP Basic, scope ``all-apis``) through a `BudgetedAdapter`
session: counted as ``metadata``, timed out, retried within the policy. One token is shared by REST and
SQL and cached until a minute before it expires.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from databricks.sdk.core import Config
from databricks.sdk.credentials_provider import CredentialsProvider, CredentialsStrategy
from pydantic import SecretStr

from auditor.collect.http import DeadlineExceeded
from auditor.collect.interface import ReadFailed

_REFRESH_MARGIN_SECONDS = 60.0
_DISCOVERY_PATH = "/oidc/.well-known/oauth-authorization-server"
_DEFAULT_TOKEN_PATH = "/oidc/v1/token"


class OAuthM2MTokenSource:
    """Client-credentials tokens for one service principal; thread-safe, cached, never logged."""

    def __init__(self, host: str, client_id: str, client_secret: SecretStr, session: requests.Session) -> None:
        self._host = host.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self._session = session
        self._lock = threading.Lock()
        self._token_endpoint: str | None = None
        self._header: str | None = None
        self._expires_at = 0.0

    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header, fetching or refreshing the token when needed."""
        with self._lock:
            if self._header is None or time.monotonic() >= self._expires_at - _REFRESH_MARGIN_SECONDS:
                self._refresh()
            assert self._header is not None
            return {"Authorization": self._header}

    def invalidate(self) -> None:
        """Forget the cached token (the server rejected it), so the next request fetches a new one."""
        with self._lock:
            self._header = None

    def _refresh(self) -> None:
        endpoint = self._token_endpoint or self._discover()
        try:
            response = self._session.post(
                endpoint,
                data={"grant_type": "client_credentials", "scope": "all-apis"},
                auth=(self.client_id, self._client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise ReadFailed(f"OAuth token request failed: {_describe(exc)}", api_family="metadata") from None
        if response.status_code != 200:
            raise ReadFailed(
                f"OAuth token request rejected: HTTP {response.status_code}{_oauth_error(response)}",
                api_family="metadata",
            )
        try:
            payload: dict[str, Any] = response.json()
            access_token = str(payload["access_token"])
            token_type = str(payload.get("token_type") or "Bearer")
            expires_in = float(payload.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise ReadFailed("OAuth token response is not a token", api_family="metadata") from None
        self._token_endpoint = endpoint
        self._header = f"{token_type} {access_token}"
        self._expires_at = time.monotonic() + expires_in

    def _discover(self) -> str:
        """The token endpoint from the workspace's OIDC discovery document (default path if absent)."""
        try:
            response = self._session.get(f"{self._host}{_DISCOVERY_PATH}", headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise ReadFailed(f"OAuth discovery failed: {_describe(exc)}", api_family="metadata") from None
        if response.status_code == 404:
            return f"{self._host}{_DEFAULT_TOKEN_PATH}"
        if response.status_code != 200:
            raise ReadFailed(f"OAuth discovery failed: HTTP {response.status_code}", api_family="metadata")
        try:
            endpoint = response.json()["token_endpoint"]
        except (ValueError, KeyError, TypeError):
            raise ReadFailed("OAuth discovery document has no token_endpoint", api_family="metadata") from None
        return str(endpoint)

    # ---- adapters to the SDK and the SQL connector ---------------------------------------------

    def sdk_strategy(self) -> CredentialsStrategy:
        """This source as a databricks-sdk credentials strategy (``Config(credentials_strategy=...)``)."""
        return _SdkStrategy(self)


class _SdkStrategy(CredentialsStrategy):
    def __init__(self, source: OAuthM2MTokenSource) -> None:
        self._source = source

    def auth_type(self) -> str:
        return "oauth-m2m"

    def __call__(self, cfg: Config) -> CredentialsProvider:
        return self._source.headers


def _oauth_error(response: requests.Response) -> str:
    """The OAuth ``error`` code of a rejected token request (never its body, which may echo input)."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" ({code})" if isinstance(code, str) and code.isidentifier() else ""


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, DeadlineExceeded):
        return "deadline exceeded"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__
