"""The rule-pack file format: validated on load, so a bad pack never starts an audit.

A pack encodes one Segment setup document. Each rule names the requirement IDs it encodes, cites
the document's section, and holds one check: a registered kind plus its arguments. Arguments may
reference the pack's parameters as ``${name}``; parameters are bound per deployment in the config.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from auditor.model.findings import Severity

PARAM_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
RULE_ID = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KindArgs(BaseModel):
    """The base of every check kind's argument model: what a rule's ``check.args`` validate into."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ParamType = Literal["string", "principal", "integer", "boolean", "list", "map"]


class ParamSpec(_Strict):
    """A pack parameter, bound per deployment in the config's ``integrations[].params``."""

    type: ParamType
    description: str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None


class SourceRef(_Strict):
    document: str = Field(description="the key of a setup document in docs/requirements.md")
    section: str


class CheckSpec(_Strict):
    kind: str = Field(description="a registered check kind; see `grants-auditor rules kinds`")
    args: dict[str, Any] = Field(default_factory=dict)


class Condition(_Strict):
    """Apply a rule only when a parameter has one of the given values (e.g. ``auth: pat``)."""

    param: str
    equals: Annotated[
        tuple[Any, ...],
        WithJsonSchema({"anyOf": [{"type": "array", "minItems": 1}, {"type": ["string", "number", "boolean"]}]}),
    ] = Field(min_length=1)

    @field_validator("equals", mode="before")
    @classmethod
    def _scalar_to_tuple(cls, value: Any) -> Any:
        return value if isinstance(value, list | tuple) else (value,)


class RuleSpec(_Strict):
    id: str = Field(pattern=RULE_ID)
    requirements: tuple[str, ...] = Field(min_length=1, description="requirement IDs this rule encodes")
    title: str = Field(min_length=5, max_length=160)
    description: str = ""
    severity: Severity
    advisory: bool = Field(False, description="the document recommends it: a failure reports warn, never fail")
    source: SourceRef
    when: Condition | None = None
    check: CheckSpec
    remediation: str = Field(min_length=5, description="what to do, with ${param} references")
    tags: tuple[str, ...] = ()


class PackSpec(_Strict):
    pack: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    version: int = Field(1, ge=1)
    document: str | None = Field(
        None, description="the key (docs/requirements.md) of the setup document this pack encodes (None: cross-cutting)"
    )
    document_title: str | None = Field(None, description="the setup document's title, as Segment publishes it")
    url: str | None = Field(
        None, pattern=r"^https://", description="where Segment publishes the document (None: unpublished)"
    )
    description: str = ""
    parameters: dict[str, ParamSpec] = Field(default_factory=dict)
    rules: tuple[RuleSpec, ...] = Field(min_length=1)
