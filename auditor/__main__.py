"""`python -m auditor`: the `grants-auditor` command."""

from auditor.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
