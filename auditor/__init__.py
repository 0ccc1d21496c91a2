"""grants-auditor: proves that a Databricks workspace and its AWS side grant exactly what Segment's
Databricks integrations need, nothing less and nothing more."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grants-auditor")
except PackageNotFoundError:  # running from a checkout that was not installed
    __version__ = "0.0.0+unknown"
