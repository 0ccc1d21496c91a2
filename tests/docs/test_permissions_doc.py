"""docs/permissions.md has one anchor per fact family (preflight links to it)."""

from pathlib import Path

import pytest

from auditor.model.facts import FactFamily

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


@pytest.mark.parametrize("family", list(FactFamily), ids=lambda f: f.value)
def test_every_fact_family_has_an_anchor(family: FactFamily) -> None:
    headings = {line[3:].strip() for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("## ")}
    assert family.value in headings
