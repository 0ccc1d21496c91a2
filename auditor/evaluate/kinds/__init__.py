"""The built-in check kinds; importing this package registers them all."""

from auditor.evaluate.kinds import credentials, grants, least_privilege, securables, trust, workspace

__all__ = ["credentials", "grants", "least_privilege", "securables", "trust", "workspace"]
