"""``python -m auditor.daemon ARGS`` is ``grants-auditor run ARGS``."""

import sys

from auditor.cli import main

raise SystemExit(main(["run", *sys.argv[1:]]))
