"""HTTP under a cycle's budget: per-family request counting, capped retries, timeouts bound by the deadline.

`BudgetedAdapter` is mounted on every `requests.Session` the collectors use (the SDK's own session and
the OAuth token session). It is the one place that retries: 429 and 503 honour ``Retry-After`` with the
delay capped at ``max_retry_delay_seconds``, connection errors and timeouts back off exponentially, and
nothing is sent or slept past the deadline. Every attempt is counted, so retries show in the stats.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters

from auditor.collect.budget import CostMeter, Deadline

RETRYABLE_STATUS = frozenset({429, 503})

_FAMILY_BY_PREFIX: tuple[tuple[str, str], ...] = (
    ("/.well-known/", "metadata"),
    ("/oidc/", "metadata"),
    ("/api/2.0/preview/scim/", "scim"),
    ("/api/2.0/account/scim/", "scim"),
    ("/api/2.1/unity-catalog/", "unity-catalog"),
    ("/api/2.0/sql/warehouses", "warehouses"),
    ("/api/2.0/permissions/", "permissions"),
    ("/api/2.0/token-management/", "tokens"),
    ("/api/2.0/token/", "tokens"),
    ("/api/2.0/workspace-conf", "workspace-conf"),
    ("/api/2.0/accounts/servicePrincipals/", "secrets"),
)


def api_family(path: str) -> str:
    """The `CollectionStats` API family of a REST path (see `auditor.model.stats.API_FAMILIES`)."""
    for prefix, family in _FAMILY_BY_PREFIX:
        if path.startswith(prefix):
            return family
    if "/.well-known/" in path or "/oidc/" in path:
        return "metadata"
    return "other"


class DeadlineExceeded(requests.exceptions.RequestException):
    """Raised instead of sending a request (or waiting for a retry) after the cycle's deadline."""


class HostUnreachable(requests.exceptions.ConnectionError):
    """Raised instead of sending a request to a host whose circuit is open; the message is the reason."""


class HostBreaker:
    """One circuit per host for one cycle: the first connection-level failure opens it for the rest of the cycle.

    A host that refuses connections, does not resolve or fails the TLS handshake will not answer the
    next hundred requests either; each would cost a timeout or a retry loop. Once open, every request
    to the host fails at once with the first failure's reason (e.g. "workspace https://x unreachable:
    connection refused"). HTTP errors (any status) never open it: the host answered.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, str] = {}

    def reason(self, url: str) -> str | None:
        """Why requests to ``url``'s host are no longer sent, or None while its circuit is closed."""
        with self._lock:
            return self._open.get(host_key(url))

    def trip(self, url: str, label: str, cause: BaseException) -> str:
        """Open the circuit of ``url``'s host (the first reason stays) and return the reason."""
        key = host_key(url)
        with self._lock:
            return self._open.setdefault(key, f"{label} {key} unreachable: {connection_failure(cause)}")

    def check(self, url: str) -> None:
        """Raise `HostUnreachable` when ``url``'s host circuit is open."""
        reason = self.reason(url)
        if reason is not None:
            raise HostUnreachable(reason)


def host_key(url: str) -> str:
    """``scheme://host[:port]`` of a URL (no path, no credentials)."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


_RESOLUTION_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "failed to resolve",
    "getaddrinfo",
    "resolution",
)


def connection_failure(cause: BaseException) -> str:
    """A short, secret-free name for a connection-level failure, read from the exception chain."""
    text = " ".join(_chain_text(cause)).lower()
    if isinstance(cause, requests.exceptions.SSLError) or "ssl" in text or "certificate" in text:
        return "TLS handshake failed"
    if "refused" in text:
        return "connection refused"
    if any(
        hint in text
        for hint in (
            "name or service not known",
            "nodename nor servname",
            "failed to resolve",
            "getaddrinfo",
            "resolution",
        )
    ):
        return "host name does not resolve"
    if isinstance(cause, requests.exceptions.Timeout) or "timed out" in text:
        return "no response (timed out)"
    if "reset" in text or "aborted" in text or "remote end closed" in text:
        return "connection reset or closed without a response"
    return "connection failed"


def _chain_text(exc: BaseException) -> list[str]:
    texts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(texts) < 10:
        seen.add(id(current))
        texts.append(f"{type(current).__name__} {current}")
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = nested or getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(current, BaseException):
            current = None
    return texts


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one request."""

    max_retries: int = 3
    max_delay_seconds: float = 10.0
    request_timeout_seconds: float = 30.0
    base_backoff_seconds: float = 0.5

    def backoff(self, retry: int) -> float:
        """Exponential backoff with a little jitter for retry number ``retry`` (0-based), capped."""
        delay: float = self.base_backoff_seconds * 2.0**retry * (1 + random.random() / 4)
        return min(delay, self.max_delay_seconds)

    def delay_for(self, response: requests.Response | None, retry: int) -> float:
        """``Retry-After`` when the server sent one (capped), else the backoff."""
        if response is not None:
            hinted = parse_retry_after(response.headers.get("Retry-After"))
            if hinted is not None:
                return min(hinted, self.max_delay_seconds)
        return self.backoff(retry)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if unusable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


class BudgetedAdapter(requests.adapters.HTTPAdapter):
    """A transport adapter that counts, retries within the policy, and respects the deadline."""

    def __init__(
        self,
        *,
        policy: RetryPolicy,
        deadline: Deadline,
        meter: CostMeter,
        family: str | None = None,
        pool_maxsize: int = 10,
        breaker: HostBreaker | None = None,
        label: str = "host",
    ) -> None:
        super().__init__(pool_connections=2, pool_maxsize=pool_maxsize, max_retries=0)
        self._policy = policy
        self._deadline = deadline
        self._meter = meter
        self._family = family
        self._breaker = breaker
        self._label = label

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | None = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        family = self._family or api_family(urlsplit(request.url or "").path)
        retry = 0
        url = request.url or ""
        while True:
            remaining = self._deadline.remaining()
            if remaining <= 0:
                raise DeadlineExceeded("deadline exceeded before the request could be sent")
            if self._breaker is not None:
                self._breaker.check(url)
            per_try = min(self._policy.request_timeout_seconds, remaining)
            self._meter.request(family)
            response: requests.Response | None = None
            try:
                response = super().send(
                    request,
                    stream=stream,
                    timeout=(per_try, per_try),
                    verify=verify,
                    cert=cert,
                    proxies=proxies,
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                cut_short = per_try < self._policy.request_timeout_seconds  # by the deadline
                if isinstance(exc, requests.exceptions.Timeout) and cut_short:
                    raise DeadlineExceeded("deadline exceeded waiting for a response") from None
                if self._breaker is not None and _connection_level(exc):
                    raise HostUnreachable(self._breaker.trip(url, self._label, exc)) from None
                delay = self._retry_delay(retry, None)
                if delay is None:
                    raise
            else:
                if response.status_code not in RETRYABLE_STATUS:
                    return response
                delay = self._retry_delay(retry, response)
                if delay is None:
                    return response
                response.close()
            time.sleep(delay)
            retry += 1

    def _retry_delay(self, retry: int, response: requests.Response | None) -> float | None:
        """The wait before the next attempt, or None when the retry count or the deadline forbids one."""
        if retry >= self._policy.max_retries:
            return None
        delay = self._policy.delay_for(response, retry)
        return delay if delay < self._deadline.remaining() else None


def _connection_level(exc: BaseException) -> bool:
    """A failure to reach the host at all (refused, DNS, TLS, connect timeout), as opposed to a slow answer."""
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError):
        return True
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return False
    return connection_failure(exc) in {"connection refused", "host name does not resolve", "TLS handshake failed"}


def budgeted_session(
    policy: RetryPolicy,
    deadline: Deadline,
    meter: CostMeter,
    *,
    family: str | None = None,
    breaker: HostBreaker | None = None,
    label: str = "host",
) -> requests.Session:
    """A fresh session whose every request goes through a `BudgetedAdapter`."""
    session = requests.Session()
    session.trust_env = False
    mount_budget(session, policy, deadline, meter, family=family, breaker=breaker, label=label)
    return session


def mount_budget(
    session: requests.Session,
    policy: RetryPolicy,
    deadline: Deadline,
    meter: CostMeter,
    *,
    family: str | None = None,
    pool_maxsize: int = 10,
    breaker: HostBreaker | None = None,
    label: str = "host",
) -> None:
    """Route both schemes of ``session`` through a `BudgetedAdapter`."""
    adapter = BudgetedAdapter(
        policy=policy,
        deadline=deadline,
        meter=meter,
        family=family,
        pool_maxsize=pool_maxsize,
        breaker=breaker,
        label=label,
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
