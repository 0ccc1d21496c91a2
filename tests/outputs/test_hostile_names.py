"""Every output format stays well-formed and bounded whatever the names in a finding hold."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.model.findings import Finding, FindingSuppression, Remediation, Report, Severity, Status, listing
from auditor.outputs.formats import (
    MAX_FIELD_CHARS,
    escape_controls,
    md_code,
    md_text,
    render,
    xml_text,
)
from auditor.packs.loader import load_packs
from tests.rules.documented import NOW, healthy, plus_grants

NOW_UTC = datetime(2026, 1, 1, tzinfo=UTC)
# Any code point, lone surrogates included (a JSON API can return "\ud800"); hypothesis adds the awkward ones.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=60)
HOSTILE = ["a\x0bb", "`x`", "``` fence", "<script>alert(1)</script>", "a & b", "line\nbreak\r\n", "*bold* _it_ [l](u)"]
NAMES = st.one_of(ANY_TEXT, st.sampled_from(HOSTILE))
md = MarkdownIt("commonmark")


def report_with(name: str, status: Status = Status.FAIL) -> Report:
    finding = Finding(
        rule_id="X-2",
        pack=name or "p",
        integration=name,
        target="prod",
        status=status,
        severity=Severity.CRITICAL,
        title=f"title {name}",
        subject=f"CATALOG:{name}",
        message=f"{name} holds SELECT",
        expected=name,
        found=name,
        evidence=(name, f"via {name}"),
        remediation=Remediation(summary=name, grant_sql=(f"GRANT SELECT ON CATALOG `{name}` TO `x`;",)),
        suppression=FindingSuppression(
            reason=name, expires=date(2100, 1, 1), ticket=name, pattern=f"subject={name}", status=Status.FAIL
        )
        if status is Status.SUPPRESSED
        else None,
    )
    return Report(target=name or "t", evaluated_at=NOW_UTC, snapshot_collected_at=NOW_UTC, findings=(finding,))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES, st.sampled_from(list(Status)))
def test_junit_is_xml_1_0_whatever_the_name(name: str, status: Status) -> None:
    document = render(report_with(name, status), "junit")
    suite = ET.fromstring(document.encode("utf-8"))  # strict: must encode and parse
    (case,) = suite.iter("testcase")
    assert case.get("name") == xml_text(f"X-2 CATALOG:{name}".strip())
    json.loads(case.findtext("system-out") or "")


def test_junit_keeps_a_vertical_tab_visible() -> None:
    suite = ET.fromstring(render(report_with("a\x0bb"), "junit").encode("utf-8"))
    assert next(suite.iter("testcase")).get("name") == "X-2 CATALOG:a\\x0bb"


@settings(max_examples=200)
@given(NAMES)
def test_a_markdown_code_span_shows_the_name_verbatim(name: str) -> None:
    (inline,) = md.parseInline(f"Subject: {md_code(name)} end")
    spans = [token for token in inline.children or [] if token.type == "code_inline"]
    assert [span.content for span in spans] == [escape_controls(name) or " "]  # a code span cannot be empty


@settings(max_examples=200)
@given(NAMES)
def test_markdown_text_shows_the_name_verbatim_and_injects_no_markup(name: str) -> None:
    (inline,) = md.parseInline(f"- found: {md_text(name)}")
    children = inline.children or []
    assert {token.type for token in children} <= {"text"}
    assert "".join(token.content for token in children) == f"- found: {escape_controls(name)}"


@settings(max_examples=100)
@given(NAMES)
def test_markdown_code_blocks_are_never_closed_by_a_name(name: str) -> None:
    document = render(report_with(name), "markdown")
    tokens = md.parse(document)
    fences = [token for token in tokens if token.type == "fence"]
    assert [fence.info for fence in fences] == ["sql"]
    assert fences[0].content == escape_controls(f"GRANT SELECT ON CATALOG `{name}` TO `x`;") + "\n"
    assert not [token for token in tokens if token.type in ("html_block", "html_inline")]


@settings(max_examples=100)
@given(NAMES)
def test_text_output_has_no_control_characters_and_one_line_per_item(name: str) -> None:
    document = render(report_with(f"n{name}"), "text")  # non-empty: every optional line is printed
    document.encode("utf-8")
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]", document)
    assert len(document.splitlines()) == len(render(report_with("plain"), "text").splitlines())


def test_listing_names_the_first_items_and_counts_the_rest() -> None:
    assert listing(["a", "b"], limit=3) == "a; b"
    assert listing([str(i) for i in range(25)], limit=3) == "0; 1; 2 … and 22 more"


def test_a_huge_exposure_gives_bounded_messages_and_the_whole_list_in_json() -> None:
    outsiders = [f"outsider-{i:05d}@example.com" for i in range(3000)]
    snapshot = plus_grants(
        healthy(), "".join(f"GRANT SELECT ON SCHEMA segment_events.raw TO `{o}`;" for o in outsiders)
    )
    report = evaluate(snapshot, load_packs(kinds=builtin_kind_args()), now=NOW)
    (exposure,) = [f for f in report.findings if f.rule_id == "X-2" and f.status is Status.FAIL]
    assert len(exposure.message) < 2000 and exposure.message.endswith("… and 2990 more")

    data = json.loads(render(report, "json"))
    (raw,) = [f for f in data["findings"] if f["rule_id"] == "X-2" and f["status"] == "fail"]
    assert set(raw["found"].split(", ")) == set(outsiders)
    assert len(raw["remediation"]["revoke_sql"]) == 3000

    for fmt in ("text", "markdown", "junit"):
        document = render(report, fmt)
        assert max(len(line) for line in document.splitlines()) <= MAX_FIELD_CHARS + 200 or fmt == "junit"
        assert "outsider-02999" not in document or fmt == "junit"  # junit's system-out holds the whole finding
    assert len(render(report, "text")) < 60_000
