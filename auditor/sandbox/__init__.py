"""The sandbox: an emulated Databricks workspace (REST + SQL warehouse) and AWS IAM (moto) on loopback.

The auditor's core never imports this package, and this package imports nothing from `auditor` outside
`auditor.sandbox`. `Sandbox` is imported lazily so that `auditor.sandbox.state` stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.sandbox.sandbox import Sandbox

__all__ = ["Sandbox"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from auditor.sandbox.sandbox import Sandbox

        return Sandbox
    raise AttributeError(name)
