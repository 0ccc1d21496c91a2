"""The sandbox: an emulated Databricks workspace (REST + SQL warehouse) and AWS IAM (moto) on loopback.

A distribution of its own (`grants-auditor-sandbox`) and an independent witness: it never imports the
auditor (`auditor`), and the auditor imports it only lazily, from its `sandbox` and `demo` commands.
`Sandbox` is imported lazily so that `auditor_sandbox.state` stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor_sandbox.sandbox import Sandbox

__all__ = ["Sandbox"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from auditor_sandbox.sandbox import Sandbox

        return Sandbox
    raise AttributeError(name)
