"""The `grants-auditor` command: one module per command group, each defining its arguments once.

`main` is the console script's entry point; `python -m auditor`, `python -m auditor.cli` and
`python -m auditor.daemon` (as `run`) call it too. Exit codes: `auditor.cli.exit_codes.ExitCode`.
"""

from auditor.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
