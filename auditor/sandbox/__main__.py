"""`python -m auditor.sandbox`: the same options as `grants-auditor sandbox`."""

from __future__ import annotations

import sys

from auditor.sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
