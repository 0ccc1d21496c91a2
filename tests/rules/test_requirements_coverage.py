"""Every requirement in requirements.md is encoded by a rule, every rule cites a real document section,
and advisory requirements stay advisory: they warn, never fail."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.facts import Binding
from auditor.model.findings import Status
from auditor.packs.loader import LoadedPack, load_packs
from tests.rules.documented import NOW, change, healthy, with_warehouse
from tests.rules.test_pack_rules import CASES, RuleCase

SHARED = Path(__file__).parents[2].parent / "shared"
REQUIREMENTS = SHARED / "requirements.md"
SEEDS = SHARED / "seeds"
PACKS = load_packs(kinds=builtin_kind_args())
RULES = [(pack, rule) for pack in PACKS for rule in pack.spec.rules]

if not REQUIREMENTS.is_file() and not os.environ.get("CI"):
    pytest.skip(f"{REQUIREMENTS} is not checked out next to the repo", allow_module_level=True)

_ROW = re.compile(r"^\|\s*(?P<id>[A-Z]+-\d+)\s*\|\s*(?P<text>[^|]*)\|", re.MULTILINE)


def requirement_rows() -> dict[str, str]:
    """Requirement ID -> its text, from the tables of requirements.md."""
    return {m["id"]: m["text"].strip() for m in _ROW.finditer(REQUIREMENTS.read_text(encoding="utf-8"))}


def test_requirements_md_parses() -> None:
    rows = requirement_rows()
    prefixes = {rid.split("-")[0] for rid in rows}
    assert prefixes == {"RETL", "DG", "DL", "PS", "AWS", "X"}
    assert len(rows) == 44


def test_every_requirement_is_encoded_by_a_rule() -> None:
    encoded = {rid for _, rule in RULES for rid in rule.requirements}
    assert sorted(set(requirement_rows()) - encoded) == []


def test_rules_cite_only_known_requirements() -> None:
    known = set(requirement_rows())
    unknown = {rule.id: rid for _, rule in RULES for rid in rule.requirements if rid not in known}
    assert unknown == {}


def _cited_text(document: str) -> str:
    path = REQUIREMENTS if document == "requirements.md" else SEEDS / document
    assert path.is_file(), f"cited document {document} is not in {SEEDS}"
    return path.read_text(encoding="utf-8")


def section_anchor(section: str) -> str:
    """The part of a cited section that must appear in the document: its heading, or "Step N"."""
    head = re.split(r"[,;/]| \(", section, maxsplit=1)[0].strip()
    return re.sub(r"^Steps? (\d+)[\d.\-\u2013]*", r"Step \1", head)


@pytest.mark.parametrize(("pack", "rule_id"), [(p.name, r.id) for p, r in RULES])
def test_rule_cites_an_existing_document_section(pack: str, rule_id: str) -> None:
    loaded = PACKS.get(pack)
    assert loaded is not None
    rule = next(r for r in loaded.spec.rules if r.id == rule_id)
    assert rule.source.section.strip()
    if loaded.spec.document is None:
        assert rule.source.document == "requirements.md", "cross-cutting rules cite requirements.md"
    else:
        assert rule.source.document == loaded.spec.document, "a document pack cites its own document"
    text = _cited_text(rule.source.document)
    anchor = section_anchor(rule.source.section)
    assert anchor.lower() in text.lower(), f"{rule_id}: {anchor!r} is not in {rule.source.document}"


def test_rule_ids_follow_their_requirements() -> None:
    """``DG-6B`` encodes DG-6: a rule's ID starts with the first requirement it encodes."""
    for _, rule in RULES:
        assert rule.id.startswith(rule.requirements[0]), rule.id


# ---- advisory: warn, never fail ---------------------------------------------------------------------------


def advisory_requirements() -> set[str]:
    return {rid for rid, text in requirement_rows().items() if text.lower().startswith("advisory")}


def test_advisory_rules_are_exactly_the_advisory_requirements() -> None:
    advisory = advisory_requirements()
    assert advisory == {"DL-6", "DL-7", "PS-6", "PS-8"}
    for _, rule in RULES:
        assert rule.advisory == (set(rule.requirements) <= advisory), rule.id


def _advisory_statuses(snapshot_statuses: list[tuple[str, Status]]) -> set[Status]:
    advisory_ids = {rule.id for _, rule in RULES if rule.advisory}
    return {status for rule_id, status in snapshot_statuses if rule_id in advisory_ids}


@pytest.mark.parametrize("case", CASES, ids=[c.rule_id for c in CASES])
def test_advisory_rules_never_fail(case: RuleCase) -> None:
    snapshot = case.fail(case.setup(healthy()))
    report = evaluate(snapshot, PACKS, now=NOW)
    assert Status.FAIL not in _advisory_statuses([(f.rule_id, f.status) for f in report.findings])


def test_advisory_rules_warn_when_everything_they_check_is_wrong() -> None:
    snapshot = with_warehouse(
        healthy(),
        state="STOPPED",
        cluster_size="4X-Large",
        min_num_clusters=1,
        max_num_clusters=1,
        enable_serverless_compute=False,
        warehouse_type="CLASSIC",
    )
    snapshot = change(snapshot, securables=())
    report = evaluate(snapshot, PACKS, now=NOW)
    statuses = [(f.rule_id, f.status) for f in report.findings]
    assert _advisory_statuses(statuses) == {Status.WARN}
    assert {f.rule_id for f in report.findings if f.status is Status.WARN} >= {"DL-6", "DL-7", "PS-6", "PS-8"}


def test_engine_turns_an_advisory_fail_into_warn(tmp_path: Path) -> None:
    """Independent of the bundled packs: any advisory rule's fail is reported as warn."""
    (tmp_path / "advisory.yaml").write_text(
        "pack: advisory-demo\n"
        "title: An advisory rule that always finds something\n"
        "rules:\n"
        "  - id: ADV-1\n"
        "    requirements: [ADV-1]\n"
        "    title: The warehouse is running\n"
        "    severity: low\n"
        "    advisory: true\n"
        "    source: {document: requirements.md, section: demo}\n"
        "    check: {kind: warehouse_state, args: {warehouse_id: no-such-warehouse}}\n"
        "    remediation: Start it.\n",
        encoding="utf-8",
    )
    packs = load_packs([tmp_path], include_default=False, kinds=builtin_kind_args())
    report = evaluate(healthy(), packs, now=NOW, bindings=[Binding(pack="advisory-demo")])
    assert [(f.rule_id, f.status) for f in report.findings] == [("ADV-1", Status.WARN)]
    assert report.findings[0].remediation.summary.startswith("Start it.")


def test_loaded_pack_names_match_their_documents() -> None:
    by_document: dict[str | None, LoadedPack] = {p.spec.document: p for p in PACKS}
    for seed in sorted(SEEDS.glob("*.md")):
        if seed.name != "README.md":
            assert seed.name in by_document, f"no pack encodes {seed.name}"
            assert by_document[seed.name].name == seed.stem
