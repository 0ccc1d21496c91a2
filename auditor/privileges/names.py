"""The one home of Databricks names: securables and their hierarchy, privileges, principals.

Everything that spells, splits, quotes or classifies a Databricks name lives here, and collectors,
evaluation, remediation and drift import it: securable kinds and their SQL keywords, how many name
parts each takes, the lineage catalog -> schema -> table/view/volume/function, ``hive_metastore``,
privilege vocabularies with their spellings and the securables each privilege applies to, and how a
grant, an access control list and SCIM name each kind of principal. What a privilege *means* (legacy
mapping, ``ALL PRIVILEGES``, inheritance, groups) is `auditor.privileges.databricks`.

Names. Unity Catalog object names cannot contain ``.``, a space, ``/`` or control characters (ASCII
0-31 and 127), so a plain full name such as ``main.sales.orders`` splits on ``.`` into its parts exactly
(`split_full_name`). ``hive_metastore`` objects keep their leading ``hive_metastore`` part
(``SCHEMA `hive_metastore`.`sales` ``), which Databricks accepts. Keys that Databricks itself writes
back-quoted (hive's `` `schema`.`table` ``) split with `split_quoted_name`.

Quoting. `quote_identifier` emits a back-quoted identifier, `` `name` ``, with each back-quote inside the
name doubled. Inside back-quotes Databricks (and Spark's lexer) treats every other character literally:
quotes, ``;``, ``--``, ``/*``, backslashes, newlines, tabs, spaces and any unicode. So a hostile name can
only ever be one identifier token. Privileges and securable keywords are never quoted; `sql_privilege`
checks that a privilege is plain words instead.

Sources: Databricks SQL reference "Privileges and securable objects in Unity Catalog" and "Privileges and
securable objects in the Hive metastore"; "Names" (identifiers); the SDK's ``Privilege`` enum; the
Permissions and SCIM APIs.
"""

from __future__ import annotations

import difflib
import re
from types import MappingProxyType
from typing import Final

from auditor.model.facts import PrincipalKind, SecurableType

# ---- securables ----------------------------------------------------------------------------------

HIVE_METASTORE: Final = "hive_metastore"

SECURABLE_KEYWORDS: Final[MappingProxyType[SecurableType, str]] = MappingProxyType(
    {
        SecurableType.METASTORE: "METASTORE",
        SecurableType.CATALOG: "CATALOG",
        SecurableType.SCHEMA: "SCHEMA",
        SecurableType.TABLE: "TABLE",
        SecurableType.VIEW: "VIEW",
        SecurableType.VOLUME: "VOLUME",
        SecurableType.FUNCTION: "FUNCTION",
        SecurableType.EXTERNAL_LOCATION: "EXTERNAL LOCATION",
        SecurableType.STORAGE_CREDENTIAL: "STORAGE CREDENTIAL",
        SecurableType.CONNECTION: "CONNECTION",
        SecurableType.ANY_FILE: "ANY FILE",
    }
)
"""How SQL (``GRANT ... ON <keyword>``, ``SHOW GRANTS ON <keyword>``) names each kind of securable."""

NAME_PART_COUNTS: Final[MappingProxyType[SecurableType, int]] = MappingProxyType(
    {
        SecurableType.METASTORE: 0,
        SecurableType.ANY_FILE: 0,
        SecurableType.CATALOG: 1,
        SecurableType.EXTERNAL_LOCATION: 1,
        SecurableType.STORAGE_CREDENTIAL: 1,
        SecurableType.CONNECTION: 1,
        SecurableType.SCHEMA: 2,
        SecurableType.TABLE: 3,
        SecurableType.VIEW: 3,
        SecurableType.VOLUME: 3,
        SecurableType.FUNCTION: 3,
    }
)
"""How many name parts each securable takes (METASTORE and ANY FILE take no name)."""

NAMELESS: Final = frozenset(t for t, count in NAME_PART_COUNTS.items() if count == 0)
"""Securables with no name of their own: facts key them by the empty name."""

SCHEMA_OBJECTS: Final = frozenset(
    {SecurableType.TABLE, SecurableType.VIEW, SecurableType.VOLUME, SecurableType.FUNCTION}
)
"""Securables that live in a schema (the third level of the three-level namespace)."""

CATALOG_OBJECTS: Final = frozenset({SecurableType.CATALOG, SecurableType.SCHEMA, *SCHEMA_OBJECTS})
"""The three-level namespace ``catalog.schema.object``: what the catalog/schema/table APIs describe."""


def grant_lookup_key(securable_type: SecurableType, full_name: str) -> tuple[SecurableType, str]:
    """The key grants on a securable are indexed and looked up by: a view is a table, names fold case.

    The platform does not tell views from tables in grants: hive_metastore SHOW GRANTS reports a view's
    grants with ObjectType ``TABLE``, and Unity Catalog REST has no VIEW securable type (views go as
    ``table``, ``/api/2.1/unity-catalog/permissions/table/<name>``; SDK ``catalog.SecurableType`` has no VIEW).
    So the SQL path records a view's grants as TABLE and the REST path as VIEW; both meet under this key.
    Finding IDs and read-status scopes keep the type the rule names (``securable_key``).
    """
    kind = SecurableType.TABLE if securable_type is SecurableType.VIEW else SecurableType(securable_type)
    return kind, full_name.lower()


PARENT_TYPE: Final[MappingProxyType[SecurableType, SecurableType]] = MappingProxyType(
    {SecurableType.SCHEMA: SecurableType.CATALOG, **dict.fromkeys(SCHEMA_OBJECTS, SecurableType.SCHEMA)}
)
"""The securable whose grants flow down to each kind. Metastore privileges are not inherited, and
locations and credentials stand alone."""


def name_parts(full_name: str) -> tuple[str, ...]:
    """A plain full name's parts, as written: ``"main.sales.orders"`` -> ``("main", "sales", "orders")``."""
    return tuple(full_name.split(".")) if full_name else ()


def split_full_name(full_name: str) -> tuple[str, ...]:
    """Split a securable's plain full name into its parts, refusing an empty part.

    Exact because Unity Catalog names cannot contain ``.``. Names must be plain, not back-quoted (see
    `split_quoted_name`). ``""`` (the METASTORE / ANY FILE name) gives ``()``; ``"a..b"`` raises `ValueError`.
    """
    parts = name_parts(full_name)
    if any(part == "" for part in parts):
        raise ValueError(f"full name has an empty part: {full_name!r}")
    return parts


def split_quoted_name(key: str) -> list[str]:
    """A name as Databricks writes it back, parts optionally back-quoted: `` `a`.`b.c`.d `` -> ``["a", "b.c", "d"]``.

    Unquoted dots separate parts, doubled back-quotes inside quotes are one back-quote, empty parts are dropped.
    """
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    index = 0
    text = key.strip()
    while index < len(text):
        char = text[index]
        if char == "`":
            if quoted and index + 1 < len(text) and text[index + 1] == "`":
                current.append("`")
                index += 2
                continue
            quoted = not quoted
        elif char == "." and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return [part for part in parts if part]


def quote_identifier(name: str) -> str:
    """Quote ``name`` as one Databricks identifier: back-quotes around it, inner back-quotes doubled.

    Raises `ValueError` for an empty name, which cannot name an object.
    """
    if not isinstance(name, str):
        raise TypeError(f"identifier must be a str, not {type(name).__name__}")
    if name == "":
        raise ValueError("an identifier cannot be empty")
    return "`" + name.replace("`", "``") + "`"


_PLAIN_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_identifier_if_needed(name: str) -> str:
    """``name`` as is when it is a plain word (letters, digits, ``_``), else `quote_identifier`."""
    return name if _PLAIN_IDENTIFIER.match(name) else quote_identifier(name)


def quote_principal(principal: str) -> str:
    """Quote a principal (user e-mail, group name, service principal application id) for GRANT/REVOKE."""
    return quote_identifier(principal)


def is_hive(full_name: str) -> bool:
    """True for ``hive_metastore`` and anything inside it (names are case-insensitive; back-quotes allowed)."""
    return full_name.split(".", 1)[0].strip("`").lower() == HIVE_METASTORE


def catalog_of(securable_type: SecurableType, full_name: str) -> str | None:
    """The catalog a securable is, or lives in; None for securables outside the three-level namespace."""
    if securable_type not in CATALOG_OBJECTS or not full_name:
        return None
    return name_parts(full_name)[0]


def ancestors(securable_type: SecurableType, full_name: str) -> list[tuple[SecurableType, str]]:
    """The securables whose grants flow down to this one, nearest first (not including itself).

    A name with fewer parts than its kind's parent takes (a table named ``sales.orders``) has no
    ancestors: there is no catalog to name.
    """
    chain: list[tuple[SecurableType, str]] = []
    current, parts = securable_type, name_parts(full_name)
    while current in PARENT_TYPE:
        current = PARENT_TYPE[current]
        count = NAME_PART_COUNTS[current]
        if len(parts) <= count:
            break
        chain.append((current, ".".join(parts[:count])))
    return chain


def lineage(securable_type: SecurableType, full_name: str) -> list[tuple[SecurableType, str]]:
    """The securable itself followed by its ancestors."""
    return [(securable_type, full_name), *ancestors(securable_type, full_name)]


# ---- privileges ------------------------------------------------------------------------------------


def normalize_privilege(privilege: str) -> str:
    """``"use catalog"``, ``"USE_CATALOG"``, ``" Use Catalog "`` -> ``"USE_CATALOG"`` (the SDK's wire spelling)."""
    return "_".join(privilege.strip().upper().replace("_", " ").split())


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


UC_PRIVILEGES: Final = _names(
    """ACCESS ALL_PRIVILEGES APPLY_TAG BROWSE CREATE_CATALOG CREATE_CLEAN_ROOM CREATE_CONNECTION
    CREATE_EXTERNAL_LOCATION CREATE_EXTERNAL_METADATA CREATE_EXTERNAL_TABLE CREATE_EXTERNAL_VOLUME CREATE_FEATURE
    CREATE_FOREIGN_CATALOG CREATE_FOREIGN_SECURABLE CREATE_FUNCTION CREATE_MANAGED_STORAGE CREATE_MATERIALIZED_VIEW
    CREATE_MODEL CREATE_PROVIDER CREATE_RECIPIENT CREATE_SCHEMA CREATE_SERVICE_CREDENTIAL CREATE_SHARE
    CREATE_STORAGE_CREDENTIAL CREATE_TABLE CREATE_VIEW CREATE_VOLUME EXECUTE EXECUTE_CLEAN_ROOM_TASK
    EXTERNAL_USE_LOCATION EXTERNAL_USE_SCHEMA MANAGE MANAGE_ALLOWLIST MODIFY MODIFY_CLEAN_ROOM READ_FEATURE
    READ_FILES READ_METADATA READ_PRIVATE_FILES READ_VOLUME REFRESH SELECT SET_SHARE_PERMISSION USE_CATALOG
    USE_CONNECTION USE_MARKETPLACE_ASSETS USE_PROVIDER USE_RECIPIENT USE_SCHEMA USE_SHARE WRITE_FILES
    WRITE_PRIVATE_FILES WRITE_VOLUME"""
)
"""Unity Catalog privileges, in the SDK's wire spelling (the ``Privilege`` enum without the legacy names)."""

HIVE_PRIVILEGES: Final = _names(
    "SELECT MODIFY CREATE USAGE READ_METADATA CREATE_NAMED_FUNCTION MODIFY_CLASSPATH ALL_PRIVILEGES OWN"
)
"""hive_metastore table-ACL privileges. ``OWN`` is how SHOW GRANTS reports ownership."""

LEGACY_PRIVILEGES: Final = _names("USAGE CREATE READ_METADATA")
"""Names from before the Unity Catalog privilege model, which Unity Catalog still maps by securable."""

KNOWN_PRIVILEGES: Final = UC_PRIVILEGES | HIVE_PRIVILEGES

_SCHEMA_CONTENT_PRIVILEGES = _names(
    """ALL_PRIVILEGES APPLY_TAG CREATE_FUNCTION CREATE_MATERIALIZED_VIEW CREATE_MODEL CREATE_TABLE CREATE_VOLUME
    EXECUTE EXTERNAL_USE_SCHEMA MANAGE MODIFY READ_VOLUME REFRESH SELECT USE_SCHEMA WRITE_VOLUME"""
)
UC_PRIVILEGES_BY_SECURABLE: Final[MappingProxyType[SecurableType, frozenset[str]]] = MappingProxyType(
    {
        SecurableType.METASTORE: _names(
            """CREATE_CATALOG CREATE_CLEAN_ROOM CREATE_CONNECTION CREATE_EXTERNAL_LOCATION CREATE_EXTERNAL_METADATA
            CREATE_PROVIDER CREATE_RECIPIENT CREATE_SHARE CREATE_SERVICE_CREDENTIAL CREATE_STORAGE_CREDENTIAL
            MANAGE_ALLOWLIST SET_SHARE_PERMISSION USE_MARKETPLACE_ASSETS USE_PROVIDER USE_RECIPIENT USE_SHARE
            READ_METADATA CREATE"""
        ),
        SecurableType.CATALOG: _SCHEMA_CONTENT_PRIVILEGES
        | _names("BROWSE CREATE_SCHEMA USE_CATALOG USAGE CREATE READ_METADATA"),
        SecurableType.SCHEMA: _SCHEMA_CONTENT_PRIVILEGES | _names("USAGE CREATE READ_METADATA"),
        SecurableType.TABLE: _names("ALL_PRIVILEGES APPLY_TAG MANAGE MODIFY SELECT READ_METADATA"),
        SecurableType.VIEW: _names("ALL_PRIVILEGES APPLY_TAG MANAGE SELECT READ_METADATA"),
        SecurableType.VOLUME: _names("ALL_PRIVILEGES APPLY_TAG MANAGE READ_VOLUME WRITE_VOLUME"),
        SecurableType.FUNCTION: _names("ALL_PRIVILEGES EXECUTE MANAGE"),
        SecurableType.EXTERNAL_LOCATION: _names(
            """ALL_PRIVILEGES BROWSE CREATE_EXTERNAL_TABLE CREATE_EXTERNAL_VOLUME CREATE_MANAGED_STORAGE
            EXTERNAL_USE_LOCATION MANAGE READ_FILES WRITE_FILES CREATE"""
        ),
        SecurableType.STORAGE_CREDENTIAL: _names(
            "ALL_PRIVILEGES CREATE_EXTERNAL_LOCATION CREATE_EXTERNAL_TABLE MANAGE READ_FILES WRITE_FILES CREATE"
        ),
        SecurableType.CONNECTION: _names("ALL_PRIVILEGES CREATE_FOREIGN_CATALOG MANAGE USE_CONNECTION"),
    }
)
"""The privileges each Unity Catalog securable accepts in GRANT ("Unity Catalog privileges and securable objects",
docs.databricks.com/data-governance/unity-catalog/manage-privileges/privileges.html: BROWSE on catalogs and external
locations only), legacy names included ("Upgrade to privilege inheritance": grants in the old model are still
accepted and mapped; ``READ_METADATA`` becomes ``BROWSE``, the closest). A catalog or schema also accepts the
privileges of what it contains: they flow down. ANY FILE is a hive_metastore securable only. The sandbox keeps its
own copy; tests/sandbox/test_vocabulary.py holds the two equal."""

HIVE_PRIVILEGES_BY_SECURABLE: Final[MappingProxyType[SecurableType, frozenset[str]]] = MappingProxyType(
    {
        **dict.fromkeys(
            (SecurableType.CATALOG, SecurableType.SCHEMA, SecurableType.TABLE, SecurableType.VIEW),
            HIVE_PRIVILEGES - {"OWN"},
        ),
        SecurableType.FUNCTION: _names("SELECT ALL_PRIVILEGES"),
        SecurableType.ANY_FILE: _names("SELECT MODIFY ALL_PRIVILEGES"),
    }
)
"""The privileges each hive_metastore securable accepts (table ACLs; ``OWN`` is reported, never granted)."""


def applies_to(privilege: str, securable_type: SecurableType, *, hive: bool) -> bool:
    """Whether ``privilege`` (any spelling) can be granted on a securable of this kind."""
    table = HIVE_PRIVILEGES_BY_SECURABLE if hive else UC_PRIVILEGES_BY_SECURABLE
    return normalize_privilege(privilege) in table.get(securable_type, frozenset())


class UnknownPrivilegeError(ValueError):
    def __init__(self, privilege: str, suggestion: str | None) -> None:
        self.privilege = privilege
        self.suggestion = suggestion
        hint = f" (did you mean {suggestion.replace('_', ' ')!r}?)" if suggestion else ""
        super().__init__(f"unknown privilege {privilege!r}{hint}")


def check_privilege(privilege: str) -> str:
    """Normalise and validate a privilege named in a rule; unknown names raise with a suggestion."""
    normal = normalize_privilege(privilege)
    if normal in KNOWN_PRIVILEGES:
        return normal
    close = difflib.get_close_matches(normal, sorted(KNOWN_PRIVILEGES), n=1, cutoff=0.6)
    raise UnknownPrivilegeError(privilege, close[0] if close else None)


UNDERSCORE_SPELLED: Final = _names("READ_METADATA CREATE_NAMED_FUNCTION MODIFY_CLASSPATH")
"""hive_metastore privileges whose SQL spelling keeps its underscores."""


def sql_spelling(privilege: str) -> str:
    """The SQL spelling of a normalised privilege: spaces, except hive's underscore names."""
    if privilege in UNDERSCORE_SPELLED:
        return privilege
    return privilege.replace("_", " ")


_PRIVILEGE_WORDS = re.compile(r"[A-Z]+(?:_[A-Z]+)*")


def sql_privilege(privilege: str) -> str:
    """The SQL spelling of a privilege in any spelling: ``"use_catalog"`` -> ``"USE CATALOG"``.

    The hive_metastore privileges ``READ_METADATA``, ``CREATE_NAMED_FUNCTION`` and ``MODIFY_CLASSPATH`` keep
    their underscores; ``ALL_PRIVILEGES`` becomes ``ALL PRIVILEGES``. Anything that is not a run of plain
    words (letters joined by ``_`` or spaces) raises `ValueError`, since privileges are emitted unquoted.
    """
    words = re.sub(r"[\s_]+", "_", privilege.strip().upper())
    if not _PRIVILEGE_WORDS.fullmatch(words):
        raise ValueError(f"not a privilege name: {privilege!r}")
    return sql_spelling(words)


# ---- principals ------------------------------------------------------------------------------------

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


ACL_PRINCIPAL_KEYS: Final[MappingProxyType[PrincipalKind, str]] = MappingProxyType(
    {
        PrincipalKind.USER: "user_name",
        PrincipalKind.GROUP: "group_name",
        PrincipalKind.SERVICE_PRINCIPAL: "service_principal_name",
    }
)
"""The key that names a principal of each kind in a Permissions API access control list."""

SCIM_RESOURCES: Final[MappingProxyType[PrincipalKind, str]] = MappingProxyType(
    {
        PrincipalKind.USER: "Users",
        PrincipalKind.GROUP: "Groups",
        PrincipalKind.SERVICE_PRINCIPAL: "ServicePrincipals",
    }
)
"""The SCIM resource type (and collection path) of each kind of principal."""

SCIM_NAME_ATTRIBUTES: Final[MappingProxyType[PrincipalKind, str]] = MappingProxyType(
    {
        PrincipalKind.USER: "userName",
        PrincipalKind.GROUP: "displayName",
        PrincipalKind.SERVICE_PRINCIPAL: "applicationId",
    }
)
"""The SCIM attribute holding the name grants use for each kind of principal."""

USERS_GROUP: Final = "users"
"""The built-in workspace group every workspace user and service principal belongs to, whether or not SCIM
lists it in their ``groups`` (docs.databricks.com/gcp/en/security/auth/entitlements)."""

ADMINS_GROUP: Final = "admins"
"""The built-in workspace group of workspace admins; it holds every workspace entitlement."""

WORKSPACE_ENTITLEMENTS: Final = (
    "allow-cluster-create",
    "allow-instance-pool-create",
    "databricks-sql-access",
    "workspace-access",
    "workspace-consume",
)
"""Every workspace entitlement, as SCIM spells it."""


def principal_kind_of(name: str) -> PrincipalKind:
    """How a grant names a principal: a UUID is a service principal's application id, an ``@`` a user's
    e-mail, anything else a group's display name."""
    if _UUID.match(name):
        return PrincipalKind.SERVICE_PRINCIPAL
    if "@" in name:
        return PrincipalKind.USER
    return PrincipalKind.GROUP
