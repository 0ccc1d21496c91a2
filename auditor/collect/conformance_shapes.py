"""What the conformance probe observed, as fixture files with secrets removed and names replaced.

Only value spellings survive as written: privilege and action types, object types, ``inherited_from``,
statuses, error codes, timestamps, column names and key sets. Every other string is a name and becomes a
placeholder of the same kind (an e-mail stays an e-mail, an application id a UUID, a dotted or back-quoted
key keeps its dots and quotes), the same name the same placeholder across every file, so the rows still
join up. The built-in names (``users``, ``admins``, ``account users``, ``hive_metastore``, ``system``,
``information_schema``, ``default``) are the platform's, not the customer's, and are kept. Values under a
secret-sounding key are removed, and the finished text goes through the log redactor (every secret of the
config, token-shaped strings) before it is written.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.collect.conformance import ConformanceResult
from auditor.log import is_sensitive_key, redact_text, register_secrets_from
from auditor.model.facts import PrincipalKind
from auditor.privileges.names import ADMINS_GROUP, HIVE_METASTORE, USERS_GROUP, principal_kind_of
from auditor.settings import TargetSettings

REMOVED = "<removed>"

KEPT_KEYS = frozenset(
    {
        # spellings the collectors depend on
        "actiontype",
        "objecttype",
        "privilege_type",
        "inherited_from",
        "is_grantable",
        "privileges",
        "privilege",
        "inherited_from_type",
        "status",
        "table_type",
        "securable_type",
        "catalog_type",
        "privilege_model_version",
        "type",
        "resourcetype",
        "schemas",
        "scopes",
        "active",
        "cloud",
        "delta_sharing_scope",
        "region",
        "error_code",
        "error_class",
        "outcome",
        "request",
        "columns",
        "securable",
        "hive_metastore",
        "distinct_privilege_type_inherited_from",
        # times are formats, not names
        "create_time",
        "update_time",
        "expire_time",
        "created_at",
        "updated_at",
        "creation_time",
        "expiry_time",
    }
)
"""Keys whose values are spellings or formats, kept as observed."""

PRINCIPAL_KEYS = frozenset(
    {
        "grantee",
        "grantor",
        "principal",
        "owner",
        "username",
        "user_name",
        "display",
        "displayname",
        "applicationid",
        "group_name",
        "service_principal_name",
        "created_by",
        "updated_by",
        "creator_name",
    }
)
"""Keys whose values name a principal (replaced by a placeholder of the same kind)."""

_KEPT_UNDER = frozenset({"entitlements", "roles"})  # their ``value`` is an entitlement, not a name
_PRINCIPALS_UNDER = frozenset({"emails"})
_SECRET_WORDS = ("secret", "hash", "password", "credential_value", "token_value")
PLATFORM_NAMES = frozenset(
    {USERS_GROUP, ADMINS_GROUP, "account users", HIVE_METASTORE, "system", "information_schema", "default"}
)
_NAME_PART = re.compile(r"[^`.]+")


class Redactor:
    """Replaces names by placeholders, consistently for one run."""

    def __init__(self) -> None:
        self._placeholders: dict[tuple[str, str], str] = {}
        self._replaced: dict[str, str] = {}  # every name met, as written -> its placeholder

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value.lower())
        if key not in self._placeholders:
            number = sum(1 for k, _ in self._placeholders if k == kind) + 1
            self._placeholders[key] = _PATTERNS[kind].format(n=number)
        self._replaced[value] = self._placeholders[key]
        return self._placeholders[key]

    def text(self, value: str) -> str:
        """Free text (a reason) with every name met so far replaced by its placeholder."""
        for name in sorted(self._replaced, key=len, reverse=True):
            value = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", self._replaced[name], value)
        return value

    def principal(self, value: str) -> str:
        if value.lower() in PLATFORM_NAMES:
            return value
        kind = principal_kind_of(value)
        label = {PrincipalKind.USER: "user", PrincipalKind.SERVICE_PRINCIPAL: "sp"}.get(kind, "group")
        return self._placeholder(label, value)

    def name(self, value: str) -> str:
        """Each part of a dotted or back-quoted name replaced, the dots and back-quotes kept."""
        return _NAME_PART.sub(lambda m: self._part(m.group()), value)

    def _part(self, part: str) -> str:
        return part if part.lower() in PLATFORM_NAMES or not part.strip() else self._placeholder("name", part)

    def walk(self, value: Any, key: str = "", context: str = "") -> Any:
        lowered = key.lower()
        if isinstance(value, dict):
            return {k: self.walk(v, str(k), lowered or context) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.walk(item, key, context) for item in value]
        if any(word in lowered for word in _SECRET_WORDS) or (lowered and is_sensitive_key(lowered)):
            return REMOVED
        if value is None or isinstance(value, bool):
            return value
        if lowered in KEPT_KEYS or (lowered == "value" and context in _KEPT_UNDER):
            return value
        if isinstance(value, int | float):
            # an id keeps its type: a number stands for a number
            return int(self._placeholder("number", str(value))) if lowered.endswith("id") else value
        text = str(value)
        if lowered in PRINCIPAL_KEYS or (lowered == "value" and context in _PRINCIPALS_UNDER):
            return self.principal(text)
        return self.name(text)


_PATTERNS = {
    "user": "user_{n}@example.com",
    "sp": "00000000-0000-4000-8000-{n:012d}",
    "group": "group_{n}",
    "name": "name_{n}",
    "number": "{n}00000000{n}",
}


def write_shapes(result: ConformanceResult, directory: Path, target: TargetSettings) -> list[Path]:
    """One fixture file per shape observed, plus ``conformance_checks.json``; returns the files written."""
    register_secrets_from(target)  # the config's own secrets must never reach the files
    directory.mkdir(parents=True, exist_ok=True)
    redactor = Redactor()
    day = result.probed_at.astimezone(UTC).date().isoformat()
    written: list[Path] = []
    bodies: dict[str, dict[str, Any]] = {name: redactor.walk(shape) for name, shape in sorted(result.shapes.items())}
    # reasons may name the auditor, the workspace host or the warehouse: those become placeholders too
    if result.identity:
        redactor.principal(result.identity)
    redactor.name(target.databricks.host)
    for known in (target.databricks.warehouse_id, target.databricks.sql_http_path):
        if known:
            redactor.name(known)
    bodies["checks"] = {
        "checks": [
            {"assumption": c.assumption, "observed": redactor.text(c.observed), "consistent": c.verdict.value}
            for c in result.checks
        ]
    }
    for name, body in bodies.items():
        provenance = {
            "repository": "conformance probe",
            "path": f"grants-auditor conformance --out: conformance_{name}.json",
            "commit_or_note": f"conformance probe, {day}; names replaced by placeholders (one name, one "
            "placeholder across the files), secrets removed",
        }
        text = json.dumps({"_provenance": provenance, **body}, indent=2, sort_keys=False, default=_json_default)
        path = directory / f"conformance_{name}.json"
        path.write_text(redact_text(text) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
