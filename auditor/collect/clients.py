"""Clients built from a target's settings, each bound to the cycle's deadline and cost meter.

- `RestClient`: a databricks-sdk `WorkspaceClient` used through its raw ``api_client`` (the SDK's typed
  models silently drop enum values they do not know). Its HTTP session goes through `BudgetedAdapter`,
  which counts and retries; the SDK's own retry loop is switched off (`_DeclineSdkRetries`), because it
  sleeps for any ``Retry-After`` uncapped and retries for 300 s by default.
- `Connections`: builds the REST client, the SQL session (`auditor.collect.sqlconn`) and the IAM client
  for one target and one cycle, sharing one OAuth token source.

Errors become `ReadFailure`s with reasons that name the HTTP status, never a token or a header.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock, RealClock
from databricks.sdk.core import Config
from databricks.sdk.errors.base import DatabricksError
from databricks.sdk.errors.platform import (
    NotFound,
    PermissionDenied,
    TemporarilyUnavailable,
    TooManyRequests,
    Unauthenticated,
)

from auditor.collect.budget import CostMeter, Deadline
from auditor.collect.http import (
    BudgetedAdapter,
    DeadlineExceeded,
    HostBreaker,
    HostUnreachable,
    RetryPolicy,
    api_family,
    budgeted_session,
    host_key,
    mount_budget,
)
from auditor.collect.interface import NotVisible, ObjectNotFound, ReadFailed, ReadFailure, as_read_failure
from auditor.collect.oauth import OAuthM2MTokenSource
from auditor.settings import OAuthM2MAuth, PatAuth, TargetSettings

_MAX_PAGES = 10_000
_SCIM_PAGE_SIZE = 1000
_REASON_LIMIT = 200
# The host-metadata probe is one small GET: a workspace that does not answer it this fast is treated as unreachable.
PROBE_TIMEOUT_SECONDS = 3.0


class _SdkRetryDeclined(Exception):
    """Raised from the SDK's retry sleep: the failed attempt is the exception's ``__context__``."""


class _DeclineSdkRetries(Clock):
    """The clock the SDK's retry loop sleeps on. Refusing to sleep leaves retrying to `BudgetedAdapter`."""

    def __init__(self) -> None:
        self._real = RealClock()

    def time(self) -> float:
        return self._real.time()

    def sleep(self, seconds: float) -> None:
        raise _SdkRetryDeclined()


class RestClient:
    """Raw JSON reads over the SDK's API client, with failures as `ReadFailure` / `ObjectNotFound`."""

    def __init__(self, workspace: WorkspaceClient, *, token_source: OAuthM2MTokenSource | None = None) -> None:
        self.workspace = workspace
        self._token_source = token_source

    def get(self, path: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """GET a JSON object; 404 raises `ObjectNotFound`, other failures a `ReadFailure`."""
        return self._call("GET", path, query=query)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST and return the JSON object answered (empty for an empty body)."""
        return self._call("POST", path, body=body or {})

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        family = api_family(path)
        try:
            return self._do(method, path, **kwargs)
        except Unauthenticated:
            if self._token_source is None:
                raise self._failure(family, _AUTH_REJECTED) from None
            # an OAuth token can expire or be revoked mid-cycle: fetch a fresh one, once
            self._token_source.invalidate()
            try:
                return self._do(method, path, **kwargs)
            except Unauthenticated:
                raise self._failure(family, _AUTH_REJECTED) from None
            except Exception as exc:
                raise self._translate(exc, family) from None
        except Exception as exc:
            raise self._translate(exc, family) from None

    def _do(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result = self.workspace.api_client.do(method, path, headers=self._headers(), **kwargs)
        except _SdkRetryDeclined as declined:
            original = declined.__context__
            if isinstance(original, Exception):
                raise original from None
            raise
        if not isinstance(result, dict):
            raise ReadFailed(f"unexpected response from {path}: not a JSON object", api_family=api_family(path))
        return result

    def _headers(self) -> dict[str, str] | None:
        """What every request carries beyond the SDK's own headers: the workspace id, when known.

        databricks-sdk 0.167's typed methods add ``X-Databricks-Workspace-Id`` whenever the config knows the
        workspace id (``service/catalog.py``, GrantsAPI.get: ``if cfg.workspace_id:
        headers["X-Databricks-Workspace-Id"] = cfg.workspace_id``; the same in every service module), but
        ``ApiClient.do`` (``core.py``) adds only the config's custom headers. Raw reads send it the same way, so
        they are routed like typed ones on a host that serves several workspaces. The id is the configured
        ``databricks.workspace_id`` or the one ``Config()`` read from ``/.well-known/databricks-config``.
        """
        workspace_id = self.workspace.config.workspace_id
        return {WORKSPACE_ID_HEADER: str(workspace_id)} if workspace_id else None

    def _translate(self, exc: Exception, family: str) -> Exception:
        if isinstance(exc, ReadFailure | ObjectNotFound):
            return exc
        if isinstance(exc, NotFound):
            if getattr(exc, "error_code", None) == "ENDPOINT_NOT_FOUND":
                return self._failure(family, "the API endpoint does not exist (HTTP 404 ENDPOINT_NOT_FOUND)")
            return ObjectNotFound(str(getattr(exc, "error_code", None) or "not found"))
        if isinstance(exc, PermissionDenied):
            return NotVisible("HTTP 403", api_family=family)
        if isinstance(exc, Unauthenticated):
            return self._failure(family, _AUTH_REJECTED)
        if isinstance(exc, TooManyRequests):
            return self._failure(family, "rate limited (HTTP 429) after retries")
        if isinstance(exc, TemporarilyUnavailable):
            return self._failure(family, "service unavailable (HTTP 503) after retries")
        if isinstance(exc, DatabricksError):
            code = getattr(exc, "error_code", None) or type(exc).__name__
            return self._failure(family, f"request failed: {code}")
        return self._failure(family, describe_transport_error(exc))

    @staticmethod
    def _failure(family: str, reason: str) -> ReadFailed:
        return ReadFailed(reason[:_REASON_LIMIT], api_family=family)

    # ---- paging ---------------------------------------------------------------------------------

    def uc_pages(
        self,
        path: str,
        key: str,
        query: dict[str, Any] | None = None,
        *,
        page_size_param: str | None = "max_results",
    ) -> list[dict[str, Any]]:
        """Every item of a paged list, following ``next_page_token`` until it is absent.

        Unity Catalog lists are asked for the server's page size (``max_results=0``: the unpaginated form
        is being retired). A page may be empty and still carry a token; a token seen twice is a server
        bug, reported as a failure rather than looped on.
        """
        items: list[dict[str, Any]] = []
        seen_tokens: set[str] = set()
        params: dict[str, Any] = {**({page_size_param: 0} if page_size_param else {}), **(query or {})}
        for _ in range(_MAX_PAGES):
            page = self.get(path, params)
            items.extend(x for x in page.get(key) or () if isinstance(x, dict))
            token = page.get("next_page_token")
            if not token:
                return items
            if token in seen_tokens:
                raise self._failure(api_family(path), f"paging of {path} did not advance")
            seen_tokens.add(token)
            params = {**params, "page_token": token}
        raise self._failure(api_family(path), f"paging of {path} exceeded {_MAX_PAGES} pages")

    def scim_list(self, path: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every resource of a SCIM list (``startIndex``/``count`` paging), deduplicated by ``id``."""
        resources: dict[str, dict[str, Any]] = {}
        start = 1
        for _ in range(_MAX_PAGES):
            page = self.get(path, {**(query or {}), "startIndex": start, "count": _SCIM_PAGE_SIZE})
            batch = [r for r in page.get("Resources") or () if isinstance(r, dict)]
            for resource in batch:
                resources.setdefault(str(resource.get("id")), resource)
            total = page.get("totalResults")
            start += len(batch)
            if not batch or not isinstance(total, int) or start > total:
                return list(resources.values())
        raise self._failure("scim", f"paging of {path} exceeded {_MAX_PAGES} pages")


WORKSPACE_ID_HEADER = "X-Databricks-Workspace-Id"

_AUTH_REJECTED = "authentication rejected (HTTP 401): the credentials are invalid or expired"


def describe_transport_error(exc: BaseException) -> str:
    """A short, secret-free description of a transport-level failure."""
    if isinstance(exc, DeadlineExceeded):
        return "deadline exceeded"
    if isinstance(exc, HostUnreachable):
        return str(exc)
    if isinstance(exc, requests.Timeout | TimeoutError):
        return "timed out waiting for a response"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed (refused, reset or closed without a response)"
    if isinstance(exc, ValueError):
        return "invalid response (not JSON)"
    return f"request failed: {type(exc).__name__}"


class Connections:
    """The clients of one target for one cycle. REST is built lazily, once, thread-safely."""

    def __init__(self, target: TargetSettings, deadline: Deadline, meter: CostMeter) -> None:
        self.target = target
        self.deadline = deadline
        self.meter = meter
        self._rest: RestClient | ReadFailure | None = None
        self._rest_lock = threading.Lock()
        settings = target.databricks
        self.policy = RetryPolicy(
            max_retries=settings.max_retries,
            max_delay_seconds=settings.max_retry_delay_seconds,
            request_timeout_seconds=settings.request_timeout_seconds,
        )
        self.breaker = HostBreaker()  # shared by every client of this cycle: one dead host stops them all
        self.token_source: OAuthM2MTokenSource | None = None
        if isinstance(settings.auth, OAuthM2MAuth):
            session = budgeted_session(
                self.policy, deadline, meter, family="metadata", breaker=self.breaker, label="workspace"
            )
            self.token_source = OAuthM2MTokenSource(
                settings.host, settings.auth.client_id, settings.auth.client_secret, session
            )

    @property
    def configured_identity(self) -> str:
        """Who the auditor is until SCIM ``Me`` answers: the OAuth client id, or "the auditor's token"."""
        auth = self.target.databricks.auth
        return auth.client_id if isinstance(auth, OAuthM2MAuth) else "the auditor's token"

    @property
    def oauth_client_id(self) -> str | None:
        """The OAuth client id the auditor authenticates as, or None with a PAT."""
        auth = self.target.databricks.auth
        return auth.client_id if isinstance(auth, OAuthM2MAuth) else None

    def rest(self) -> RestClient:
        """The cycle's one `RestClient`; a failure to build it fails every read that needs it."""
        with self._rest_lock:
            if self._rest is None:
                try:
                    self._rest = self._build_rest()
                except Exception as exc:
                    self._rest = as_read_failure(exc)
            if isinstance(self._rest, ReadFailure):
                raise self._rest
            return self._rest

    def _build_rest(self) -> RestClient:
        """A `RestClient` whose every request is counted, timed out and retried within the budget.

        The workspace is first probed at ``/.well-known/databricks-config`` through the budgeted session,
        briefly: a host that refuses, does not resolve, fails TLS or does not answer opens the cycle's
        circuit, and every read needing it fails at once with that reason. ``Config()`` then repeats
        the probe on its own session, through the same adapter (``http_adapter``), which hands it the
        answer already read rather than asking twice.
        """
        settings = self.target.databricks
        if self.deadline.expired():
            raise ReadFailed("deadline exceeded before the workspace client was built")
        probe_url, probe_answer = self._probe_workspace()
        budgeted = BudgetedAdapter(
            policy=self.policy,
            deadline=self.deadline,
            meter=self.meter,
            family="metadata",
            breaker=self.breaker,
            label="workspace",
        )
        common: dict[str, Any] = {
            "host": settings.host,
            # the SDK's own retry loops sleep on `_DeclineSdkRetries`, except its host-metadata probe's: keep it short
            "retry_timeout_seconds": 1,
            "http_timeout_seconds": self.deadline.bound(settings.request_timeout_seconds) or 1.0,
            "clock": _DeclineSdkRetries(),
            "http_adapter": _ReplayProbe(budgeted, probe_url, probe_answer),
        }
        if settings.workspace_id:
            common["workspace_id"] = settings.workspace_id  # the SDK then does not take the announced one
        auth = settings.auth
        try:
            if isinstance(auth, PatAuth):
                config = Config(token=auth.token.get_secret_value(), auth_type="pat", **common)
            else:
                assert self.token_source is not None
                config = Config(credentials_strategy=self.token_source.sdk_strategy(), **common)
        except ValueError:
            # the message of a config error may describe the configuration: say only what failed
            reason = self.breaker.reason(settings.host)
            raise ReadFailed(reason or "the Databricks client could not be configured (check host and auth)") from None
        workspace = WorkspaceClient(config=config)
        session = _sdk_session(workspace)
        mount_budget(
            session,
            self.policy,
            self.deadline,
            self.meter,
            pool_maxsize=settings.max_concurrency + 2,
            breaker=self.breaker,
            label="workspace",
        )
        return RestClient(workspace, token_source=self.token_source)

    def _probe_workspace(self) -> tuple[str, requests.Response]:
        """One short GET of the workspace's metadata; any HTTP answer will do. Unreachable: `ReadFailed`."""
        host = self.target.databricks.host
        policy = RetryPolicy(
            max_retries=0,
            max_delay_seconds=self.policy.max_delay_seconds,
            request_timeout_seconds=min(PROBE_TIMEOUT_SECONDS, self.policy.request_timeout_seconds),
        )
        session = budgeted_session(
            policy, self.deadline, self.meter, family="metadata", breaker=self.breaker, label="workspace"
        )
        url = f"{host_base(host)}/.well-known/databricks-config"
        try:
            answer = session.get(url, allow_redirects=False)
            answer.close()  # the body is read already
            return url, answer
        except requests.Timeout as exc:
            raise ReadFailed(self.breaker.trip(url, "workspace", exc)) from None
        except requests.RequestException as exc:
            raise ReadFailed(self.breaker.reason(url) or describe_transport_error(exc)) from None
        finally:
            session.close()

    def sql_credentials(self) -> dict[str, Any]:
        """Connector keyword arguments for the configured auth (a PAT, or the shared OAuth source)."""
        auth, source = self.target.databricks.auth, self.token_source
        if isinstance(auth, PatAuth):
            return {"access_token": auth.token.get_secret_value()}
        assert source is not None

        def provider() -> Callable[[], dict[str, str]]:
            return source.headers  # the connector asks once for a header factory, then calls it

        return {"credentials_provider": provider}


class _ReplayProbe(requests.adapters.BaseAdapter):
    """Answers the SDK's host-metadata GET with the probe's response, once; everything else goes to ``inner``."""

    def __init__(self, inner: requests.adapters.BaseAdapter, url: str, answer: requests.Response) -> None:
        super().__init__()
        self._inner = inner
        self._target = (host_key(url), urlsplit(url).path)
        self._answer: requests.Response | None = answer
        self._lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        with self._lock:
            answer = self._answer
            if answer is not None and request.method == "GET" and (host_key(url), urlsplit(url).path) == self._target:
                self._answer = None
                answer.request = request
                return answer
        return self._inner.send(request, *args, **kwargs)

    def close(self) -> None:
        self._inner.close()


def host_base(host: str) -> str:
    """The workspace URL without a trailing slash, ``https://`` assumed when no scheme is given."""
    base = host.rstrip("/")
    return base if "://" in base else f"https://{base}"


def _sdk_session(workspace: WorkspaceClient) -> requests.Session:
    """The `requests.Session` under the SDK's API client (databricks-sdk 0.156: ``ApiClient._api_client``)."""
    base = getattr(workspace.api_client, "_api_client", None)
    session = getattr(base, "_session", None)
    if not isinstance(session, requests.Session):
        raise ReadFailed("unsupported databricks-sdk version: cannot observe its HTTP session")
    return session
