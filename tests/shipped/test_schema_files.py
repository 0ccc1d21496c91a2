"""docs/schemas/ holds exactly what `grants-auditor rules schema` generates from the models today: a change to the
pack or config models, or to a check kind's arguments, must come with its regenerated JSON Schemas."""

from __future__ import annotations

from pathlib import Path

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_committed_schemas_are_regenerated_from_the_models(tmp_path: Path) -> None:
    assert main(["rules", "schema", "--out", str(tmp_path)]) == ExitCode.OK
    generated = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.iterdir()}
    assert sorted(committed) == sorted(generated)
    stale = [name for name in generated if committed[name] != generated[name]]
    assert stale == [], f"regenerate with: grants-auditor rules schema --out docs/schemas ({stale})"
