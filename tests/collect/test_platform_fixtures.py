"""Real response samples from public code that runs against real workspaces; each names its source."""

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "platform"


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_platform_fixture_names_its_provenance(path: Path) -> None:
    body = json.loads(path.read_text(encoding="utf-8"))
    provenance = body["_provenance"]
    assert provenance["repository"] and provenance["path"]
