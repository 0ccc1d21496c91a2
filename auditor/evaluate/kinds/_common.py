"""Argument types shared by the check kinds."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BeforeValidator, StringConstraints

from auditor.model.facts import SecurableType
from auditor.privileges.names import check_privilege


def _as_list(value: Any) -> Any:
    """A scalar becomes a one-item list; nested lists (a list parameter inside a list) are flattened."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        flat: list[Any] = []
        for item in value:
            flat.extend(_as_list(item) if isinstance(item, list | tuple) else [item])
        return flat
    return value


def _privileges(value: Any) -> Any:
    items = _as_list(value)
    if not isinstance(items, list | tuple):
        return items
    return [check_privilege(v) if isinstance(v, str) else v for v in items]


NonEmpty = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Names = Annotated[tuple[NonEmpty, ...], BeforeValidator(_as_list)]
Privileges = Annotated[tuple[str, ...], BeforeValidator(_privileges)]

# Plain strings, not enum members: a bad value's error then lists 'CATALOG', 'SCHEMA', ... not enum reprs.
GrantableType = Literal["CATALOG", "SCHEMA", "TABLE", "VIEW", "EXTERNAL_LOCATION", "STORAGE_CREDENTIAL"]
GRANTABLE_TYPES: tuple[SecurableType, ...] = tuple(SecurableType(t) for t in get_args(GrantableType))


def subject_of(securable_type: SecurableType, full_name: str) -> str:
    return f"{securable_type.value}:{full_name}"
