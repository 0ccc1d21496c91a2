"""The guarded loader keeps ordinary files working: big snapshots, YAML anchors and merge keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.errors import InputError, clip
from auditor.loading import CONFIG, load_snapshot
from auditor.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[1]


def test_a_snapshot_far_over_the_config_limit_still_loads(tmp_path: Path) -> None:
    document = json.loads((ROOT / "examples" / "snapshots" / "healthy.json").read_text(encoding="utf-8"))
    grants = document["grants"]
    document["grants"] = [{**g, "principal": f"{g['principal']}-{i}"} for i in range(1000) for g in grants]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    assert path.stat().st_size > 4 * CONFIG.max_bytes
    assert len(load_snapshot(path).grants) == 1000 * len(grants)


def test_anchors_aliases_and_merge_keys_still_work(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "base: &base {region: us-east-1, profile: audit}\n"
        "east: {<<: *base}\n"
        "west: {<<: *base, region: us-west-2}\n"
        "list: [*base, *base]\n",
        encoding="utf-8",
    )
    data, lines = load_yaml(path, CONFIG)
    assert data["west"] == {"region": "us-west-2", "profile": "audit"}
    assert data["east"] == data["base"] and data["list"] == [data["base"]] * 2
    assert lines.line_of(("west", "region")) == 3


def test_nesting_up_to_the_limit_is_fine_one_more_is_not(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("[" * 64 + "]" * 64 + "\n", encoding="utf-8")
    load_yaml(path, CONFIG)
    path.write_text("[" * 65 + "]" * 65 + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="nested deeper than 64 levels"):
        load_yaml(path, CONFIG)


def test_messages_escape_control_characters_and_stay_short() -> None:
    assert clip("a\nb\x1b[31m\x0b") == "a\\nb\\x1b[31m\\x0b"
    long = clip("x" * 1_000_000)
    assert len(long) < 400 and long.endswith("(1,000,000 characters)")
    error = InputError("c.yaml", "bad name " + repr("\n" * 10_000), line=3, field="targets[0].name")
    assert "\n" not in str(error) and len(str(error)) < 1_500
