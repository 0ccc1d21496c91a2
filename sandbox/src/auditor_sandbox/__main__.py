"""`python -m auditor_sandbox`: the same command as `grants-auditor-sandbox`."""

from __future__ import annotations

import sys

from auditor_sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
