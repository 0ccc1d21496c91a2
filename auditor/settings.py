"""The auditor's configuration: targets, how to reach them, and which integrations to audit.

Values of the form ``${ENV_VAR}`` are replaced from the environment when the file is loaded (unset is an
error); ``${ENV_VAR:-default}`` gives the default when the variable is unset or empty, as in POSIX shells.
Secrets are held as `SecretStr`, so they never print, log or serialise.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from auditor.errors import InputError
from auditor.loading import CONFIG
from auditor.model.facts import Binding, Watch
from auditor.model.suppressions import Suppression
from auditor.yamlio import LineIndex, Loc, format_loc, load_yaml, validation_error

_HOSTNAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|[0-9A-Fa-f:.]+")  # a DNS name, IPv4 or IPv6
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatAuth(_Strict):
    type: Literal["pat"]
    token: SecretStr


class OAuthM2MAuth(_Strict):
    type: Literal["oauth-m2m"]
    client_id: str
    client_secret: SecretStr


class DatabricksSettings(_Strict):
    host: str
    auth: PatAuth | OAuthM2MAuth = Field(discriminator="type")
    warehouse_id: str | None = Field(None, description="the warehouse the auditor runs SQL on")
    workspace_id: str | None = Field(
        None,
        pattern=r"^[0-9]+$",
        description="the workspace's numeric id, sent as X-Databricks-Workspace-Id; default: the id the workspace "
        "announces at /.well-known/databricks-config",
    )
    http_path: str | None = Field(None, description="defaults to /sql/1.0/warehouses/<warehouse_id>")
    request_timeout_seconds: float = Field(30.0, gt=0)
    max_concurrency: int = Field(8, ge=1, le=20, description="the platform caps ~20 concurrent requests")
    max_retries: int = Field(3, ge=0, le=10)
    max_retry_delay_seconds: float = Field(10.0, gt=0)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            raise ValueError("host must not be empty")
        return _workspace_url(value if "://" in value else f"https://{value}")

    @field_validator("http_path")
    @classmethod
    def _http_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("http_path must start with '/' (e.g. /sql/1.0/warehouses/<id>)")
        if value is not None and any(ch.isspace() or not ch.isprintable() for ch in value):
            raise ValueError("http_path must not contain spaces or control characters")
        return value

    @property
    def sql_http_path(self) -> str | None:
        if self.http_path:
            return self.http_path
        return f"/sql/1.0/warehouses/{self.warehouse_id}" if self.warehouse_id else None


def _workspace_url(url: str) -> str:
    """A workspace URL is scheme and host (and port): ``https://dbc-….cloud.databricks.com``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"host is not a URL: {exc}") from exc
    if parts.scheme not in ("https", "http"):
        raise ValueError(f"host must be an https:// (or http://) URL, not {parts.scheme}://")
    if not parts.hostname or not _HOSTNAME.fullmatch(parts.hostname):
        raise ValueError("host must name a host, e.g. https://dbc-1234567890123456.cloud.databricks.com")
    if parts.username is not None or parts.password is not None:
        raise ValueError("host must not carry credentials: use auth")
    if parts.path or parts.query or parts.fragment:
        raise ValueError("host must be the workspace URL alone, without a path, query or fragment")
    return url


class AwsSettings(_Strict):
    region: str = "us-east-1"
    profile: str | None = None
    assume_role_arn: str | None = None
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None


class Schedule(_Strict):
    interval_seconds: float | None = Field(60.0, gt=0)
    cron: str | None = Field(None, description="crontab expression; overrides interval_seconds")
    jitter_seconds: float = Field(0.0, ge=0)
    deadline_seconds: float = Field(120.0, gt=0, description="a cycle's collection deadline")


class TargetSettings(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    databricks: DatabricksSettings
    aws: AwsSettings | None = None
    collection: Literal["auto", "sql", "api"] = "auto"
    allow_warehouse_start: bool = False
    schedule: Schedule = Schedule()
    watch: Watch = Watch()
    integrations: tuple[Binding, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_instances(self) -> TargetSettings:
        seen: set[str] = set()
        for binding in self.integrations:
            if binding.instance in seen:
                raise ValueError(f"integration {binding.instance!r} is bound twice: give each a distinct name")
            seen.add(binding.instance)
        return self


class StateSettings(_Strict):
    path: str = "grants-auditor.sqlite"
    retention_days: int = Field(90, ge=1)
    max_size_mb: int = Field(
        512, ge=1, description="the oldest cycles go first once the store holds more (each target's latest stays)"
    )


class ServerSettings(_Strict):
    bind: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)
    findings: bool | None = Field(
        None,
        description="serve /findings (every grant and principal); default: on when bound to a loopback address "
        "or protected by a token, off otherwise",
    )
    findings_token_file: str | None = Field(
        None, description="a file holding the bearer token /findings requires (read at start)"
    )
    findings_token_env: str | None = Field(
        None, description="an environment variable holding the bearer token /findings requires"
    )
    max_connections: int = Field(
        100,
        ge=2,
        description="open connections beyond this close the least recently active idle one (never refuse a new one)",
    )
    idle_timeout_seconds: int = Field(30, ge=1, description="a connection with no traffic for this long is closed")
    read_timeout_seconds: float = Field(
        10.0, gt=0, description="a request's line and headers must arrive within this, or the connection is closed"
    )

    @model_validator(mode="after")
    def _one_token_source(self) -> ServerSettings:
        if self.findings_token_file is not None and self.findings_token_env is not None:
            raise ValueError("give findings_token_file or findings_token_env, not both")
        return self


class DriftSettings(_Strict):
    debounce_cycles: int = Field(2, ge=1, description="a change must persist this many cycles")


class Settings(_Strict):
    rule_dirs: tuple[str, ...] = Field((), description="pack directories in addition to the bundled rules")
    state: StateSettings = StateSettings()
    server: ServerSettings = ServerSettings()
    drift: DriftSettings = DriftSettings()
    max_concurrent_targets: int = Field(4, ge=1)
    suppressions: tuple[Suppression, ...] = Field((), description="accepted exceptions, each with an expiry")
    suppression_warning_days: int = Field(
        14, ge=0, description="a suppression expiring within this many days is reported (rule S-1 warns)"
    )
    targets: tuple[TargetSettings, ...] = Field(min_length=1)
    source_path: str | None = Field(None, exclude=True)
    _lines: LineIndex = PrivateAttr(default_factory=LineIndex)

    def line_of(self, loc: Loc) -> int | None:
        """The config line a value came from (for errors found after loading, e.g. in bindings)."""
        return self._lines.line_of(loc)

    @model_validator(mode="after")
    def _unique_targets(self) -> Settings:
        names = [t.name for t in self.targets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"target names must be unique: {', '.join(dupes)}")
        return self

    def target(self, name: str | None) -> TargetSettings:
        if name is None:
            if len(self.targets) == 1:
                return self.targets[0]
            raise InputError(self.source_path or "config", "several targets: choose one with --target")
        for target in self.targets:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in self.targets)
        raise InputError(self.source_path or "config", f"no target {name!r} (known: {known})")

    def resolved_rule_dirs(self) -> list[Path]:
        base = Path(self.source_path).parent if self.source_path else Path.cwd()
        return [(base / d) if not Path(d).is_absolute() else Path(d) for d in self.rule_dirs]


UNSET_PLACEHOLDER = "1"
"""What an unset variable reads as when a config is checked without its environment: a value the fields that
usually take variables (secrets, ids, hosts, paths, numbers) accept."""


@dataclass(frozen=True)
class MissingVariable:
    """An environment variable the config refers to without a default, and is not set."""

    name: str
    line: int | None
    field: str


def _interpolate(
    value: Any, loc: Loc, path: Path, index: LineIndex, env: dict[str, str], missing: list[MissingVariable] | None
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, (*loc, k), path, index, env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*loc, i), path, index, env, missing) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if default is not None and not value:  # as in POSIX shells, ":-" also replaces an empty value
            return default
        if value is not None:
            return value
        unset = MissingVariable(name=name, line=index.line_of(loc), field=format_loc(loc))
        if missing is None:
            raise InputError(path, f"environment variable {name} is not set", line=unset.line, field=unset.field)
        missing.append(unset)
        return UNSET_PLACEHOLDER

    return _ENV_REF.sub(replace, value)


def _reject_duplicate_targets(path: Path, data: dict[str, Any], index: LineIndex) -> None:
    targets = data.get("targets")
    if not isinstance(targets, list):
        return
    seen: set[str] = set()
    for i, target in enumerate(targets):
        name = target.get("name") if isinstance(target, dict) else None
        if isinstance(name, str) and name in seen:
            raise InputError(
                path,
                f"target names must be unique: {name}",
                line=index.line_of(("targets", i, "name")),
                field=f"targets[{i}].name",
            )
        if isinstance(name, str):
            seen.add(name)


def load_settings(
    path: str | Path, env: dict[str, str] | None = None, *, missing: list[MissingVariable] | None = None
) -> Settings:
    """Load and validate a config file. Raises `InputError` (file, line, field) on bad input.

    An unset variable is bad input, unless ``missing`` is given: then each one is appended to it and reads as
    `UNSET_PLACEHOLDER`, so the structure can be checked without the secrets (`config validate`).
    """
    path = Path(path)
    data, index = load_yaml(path, CONFIG)
    if not isinstance(data, dict):
        raise InputError(path, "the config must be a mapping with a 'targets' list", line=1)
    data = _interpolate(data, (), path, index, dict(os.environ) if env is None else env, missing)
    _reject_duplicate_targets(path, data, index)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        error = validation_error(path, exc, index, data=data)
        unset = next((m for m in missing or () if m.field == error.field), None)
        if unset is not None:  # the placeholder does not fit this field: the variable is needed to check it
            raise InputError(
                path,
                f"environment variable {unset.name} is not set (needed to check it)",
                line=unset.line,
                field=unset.field,
            ) from exc
        raise error from exc
    settings = settings.model_copy(update={"source_path": str(path)})
    settings._lines = index
    return settings


def secret_values(settings: Settings) -> list[str]:
    """Every secret in the config, so the log redactor can mask it wherever it appears."""
    found: list[str] = []
    for target in settings.targets:
        auth = target.databricks.auth
        found.append(
            auth.token.get_secret_value() if isinstance(auth, PatAuth) else auth.client_secret.get_secret_value()
        )
        if target.aws is not None and target.aws.secret_access_key is not None:
            found.append(target.aws.secret_access_key.get_secret_value())
    return [value for value in found if value]
