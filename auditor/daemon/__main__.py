"""``python -m auditor.daemon --config F [--once]``."""

from auditor.daemon.entry import main

raise SystemExit(main())
