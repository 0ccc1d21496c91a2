"""docs/requirements.md and the bundled packs agree both ways: every requirement is encoded by a rule, every
rule encodes only listed requirements and cites a listed section of its document, every pack names its document as
the table does, and advisory requirements stay advisory: they warn, never fail."""

from __future__ import annotations

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

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "docs" / "requirements.md"
CROSS_CUTTING = "requirements.md"  # the key of docs/requirements.md's own "Beyond the documents" section
PACKS = load_packs(kinds=builtin_kind_args())
RULES = [(pack, rule) for pack in PACKS for rule in pack.spec.rules]

_ROW = re.compile(r"^\|\s*(?P<id>[A-Z]+-\d+)\s*\|\s*(?P<text>[^|]*)\|", re.MULTILINE)
_DOCUMENT_ROW = re.compile(
    r"^\| `(?P<key>[a-z0-9-]+\.md)` \| (?P<title>[^|]+?) \| (?P<where>[^|]+?) \| `(?P<pack>[a-z0-9-]+)` \|$",
    re.MULTILINE,
)
_DOCUMENT_HEADING = re.compile(
    r"^## .*\(`(?P<key>[a-z0-9-]+\.md)`\)$|^## (?P<beyond>Beyond the documents)$", re.MULTILINE
)


def requirements_text() -> str:
    return REQUIREMENTS.read_text(encoding="utf-8")


def requirement_rows() -> dict[str, str]:
    """Requirement ID -> its text, from the tables of docs/requirements.md."""
    return {m["id"]: m["text"].strip() for m in _ROW.finditer(requirements_text())}


def documents() -> dict[str, tuple[str, str | None, str]]:
    """Document key -> (title, public URL or None, pack), from the table of documents."""
    found = {}
    for m in _DOCUMENT_ROW.finditer(requirements_text()):
        url = re.fullmatch(r"<(https://[^>]+)>", m["where"])
        found[m["key"]] = (m["title"], url.group(1) if url else None, m["pack"])
    return found


def cited_sections() -> dict[str, list[str]]:
    """Document key -> the section headings listed under "Sections:" in that document's part of the file."""
    text = requirements_text()
    headings = list(_DOCUMENT_HEADING.finditer(text))
    sections: dict[str, list[str]] = {}
    for here, after in zip(headings, [*headings[1:], None], strict=True):
        block = text[here.end() : after.start() if after else len(text)]
        outline = block.split("Sections:\n", 1)[1].split("\n\n", 1)[0]
        sections[here["key"] or CROSS_CUTTING] = [line.removeprefix("- ") for line in outline.splitlines()]
    return sections


def test_requirements_md_parses() -> None:
    ids = [m["id"] for m in _ROW.finditer(requirements_text())]
    assert len(ids) == len(set(ids)), "each requirement ID appears once"
    by_prefix: dict[str, list[int]] = {}
    for rid in ids:
        prefix, number = rid.split("-")
        by_prefix.setdefault(prefix, []).append(int(number))
    assert set(by_prefix) == {"RETL", "DG", "DL", "PS", "AWS", "X"}
    for prefix, numbers in by_prefix.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"{prefix} requirements are numbered 1..n in order"


def test_every_requirement_is_encoded_by_a_rule() -> None:
    encoded = {rid for _, rule in RULES for rid in rule.requirements}
    assert sorted(set(requirement_rows()) - encoded) == []


def test_rules_cite_only_known_requirements() -> None:
    known = set(requirement_rows())
    unknown = {rule.id: rid for _, rule in RULES for rid in rule.requirements if rid not in known}
    assert unknown == {}


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
        assert rule.source.document == CROSS_CUTTING, "cross-cutting rules cite requirements.md"
    else:
        assert rule.source.document == loaded.spec.document, "a document pack cites its own document"
    sections = cited_sections()[rule.source.document]
    anchor = section_anchor(rule.source.section)
    assert any(anchor.lower() in section.lower() for section in sections), (
        f"{rule_id}: {anchor!r} is not a section of {rule.source.document} in {REQUIREMENTS.name}"
    )


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


def test_every_document_has_its_pack_and_its_pack_cites_it() -> None:
    """The table of documents and the packs' metadata (document key, title, URL) say the same thing."""
    by_document: dict[str | None, LoadedPack] = {p.spec.document: p for p in PACKS}
    for key, (title, url, pack_name) in documents().items():
        if key == CROSS_CUTTING:
            assert by_document[None].name == pack_name
            continue
        assert key in by_document, f"no pack encodes {key}"
        spec = by_document[key].spec
        assert (by_document[key].name, spec.document_title, spec.url) == (pack_name, title, url)
        assert by_document[key].name == key.removesuffix(".md")
    assert {p.spec.document for p in PACKS} - {None} == set(documents()) - {CROSS_CUTTING}


def test_every_document_lists_its_sections_and_requirements() -> None:
    assert set(cited_sections()) == set(documents())
    assert all(cited_sections().values())


def test_published_documents_are_cited_at_segments_public_docs() -> None:
    for key, (_, url, _) in documents().items():
        if url is not None:
            assert url.startswith("https://segment.com/docs/") and url.endswith("/"), key
    unpublished = {key for key, (_, url, _) in documents().items() if url is None}
    assert unpublished == {"data-graph.md", CROSS_CUTTING}
