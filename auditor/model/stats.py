"""Counts a collection cycle measured: the cost of one audit, for metrics and the benchmark."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

API_FAMILIES: tuple[str, ...] = (
    "metadata",  # host metadata / OAuth discovery / token endpoint
    "scim",
    "unity-catalog",
    "warehouses",
    "permissions",
    "tokens",
    "workspace-conf",
    "secrets",
    "sql",  # SQL statements through the warehouse
    "iam",  # AWS IAM
)


class CollectionStats(BaseModel):
    """What one collection cost and what went wrong, per API family (see `API_FAMILIES`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: Mapping[str, int] = Field(default_factory=dict)  # HTTP requests sent, retries included
    statements: int = 0  # SQL statements executed
    errors: Mapping[str, int] = Field(default_factory=dict)  # failed reads (after retries)
    duration_seconds: float = 0.0
    deadline_exceeded: bool = False
    strategy: str = ""  # what `collection: auto` resolved to: "sql" or "api"
