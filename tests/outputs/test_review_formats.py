"""The security-review formats (issue 12): HTML self-contained and rendered by a real browser, SARIF valid against
the official 2.1.0 schema, the SQL script naming what it cannot fix, and `report` rendering the state store's latest
cycle without collecting again. Hostile names stay inert in HTML and SARIF."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from datetime import timedelta
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode
from auditor.drift.cycle import record_cycle
from auditor.drift.store import StateStore
from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.loading import load_snapshot
from auditor.model.facts import Snapshot
from auditor.model.findings import Severity, Status
from auditor.model.stats import CollectionStats
from auditor.outputs.formats import escape_controls, render
from auditor.outputs.review import AuditRecord, pack_infos
from auditor.outputs.sarif import LEVELS
from auditor.packs.loader import load_packs
from tests.golden import DRIFTED, non_pass
from tests.outputs.test_hostile_names import HOSTILE, NAMES, report_with

ROOT = Path(__file__).resolve().parents[2]
DRIFTED_SNAPSHOT = ROOT / "examples" / "snapshots" / "drifted.json"
HEALTHY_SNAPSHOT = ROOT / "examples" / "snapshots" / "healthy.json"
SARIF_SCHEMA = ROOT / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"
PACKS = load_packs(kinds=builtin_kind_args())
DOCUMENT_URLS = {p.spec.url for p in PACKS if p.spec.url}


def drifted_record() -> AuditRecord:
    snapshot = load_snapshot(DRIFTED_SNAPSHOT)
    report = evaluate(snapshot, PACKS, now=snapshot.collected_at)
    return AuditRecord(report=report, snapshot=snapshot, packs=pack_infos(PACKS))


# ---- HTML ----------------------------------------------------------------------------------------------------


class Page(HTMLParser):
    """Every start tag with its attributes, the text, and the contents of <style> elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def parse(document: str) -> Page:
    page = Page()
    page.feed(document)
    page.close()
    return page


FETCHING_TAGS = {"script", "link", "img", "iframe", "frame", "object", "embed", "base", "audio", "video", "source"}
FETCHING_ATTRIBUTES = {"src", "srcset", "poster", "data", "background", "action", "formaction", "xlink:href"}


def external_references(page: Page) -> list[str]:
    """Whatever would make a browser fetch something (a link the reader clicks is not fetched)."""
    found = [f"<{tag}>" for tag, _ in page.tags if tag in FETCHING_TAGS]
    for tag, attrs in page.tags:
        found += [f"{tag}[{name}]" for name in attrs if name in FETCHING_ATTRIBUTES]
        style = (attrs.get("style") or "").lower()
        if "url(" in style or "@import" in style:
            found.append(f"{tag}[style]")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            found.append("meta refresh")
        href = attrs.get("href")
        if href is not None and (tag != "a" or href not in DOCUMENT_URLS):
            found.append(f"{tag}[href={href}]")
    css = "".join(page.styles).lower()
    found += [token for token in ("@import", "url(", "@font-face") if token in css]
    return found


def test_the_html_report_is_self_contained_and_links_only_the_setup_documents() -> None:
    page = parse(render(drifted_record(), "html"))
    assert external_references(page) == []
    links = {attrs["href"] for tag, attrs in page.tags if tag == "a"}
    assert links and links <= DOCUMENT_URLS


def test_the_html_report_shows_every_planted_problem_with_its_fix_and_source() -> None:
    record = drifted_record()
    document = render(record, "html")
    text = " ".join(parse(document).text)
    for rule_id, subject, status in non_pass(DRIFTED):
        finding = next(f for f in record.report.findings if (f.rule_id, f.subject) == (rule_id, subject))
        assert f'id="f-{finding.finding_id}"' in document and finding.status is status
    for expected in (
        "GRANT USE SCHEMA ON CATALOG `segment_profiles` TO `5e9e0002-0000-4000-8000-000000000002`;",
        "aws iam update-assume-role-policy --role-name segment-lake-role",
        "/api/2.0/permissions/warehouses/8a6f3d2c1b0e9f47",
        "REVOKE SELECT ON CATALOG `segment_profiles` FROM `contractor@example.com`;",
        "5e9e0002-0000-4000-8000-000000000002 (segment-data-graph)",  # the display name next to the id
        "a0d1703e-0000-4000-8000-000000000001 (grants-auditor)",  # the auditor's identity
        "Excess and exposure: REVOKE suggestions, for review (2)",
        "data-graph/DG-5",  # not applicable
    ):
        assert expected in text, expected


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return found


def test_the_html_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render(drifted_record(), "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    with tempfile.TemporaryDirectory() as profile:
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
        ]
        dom = subprocess.run(
            [chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        subprocess.run(
            [chromium(), *flags, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()],
            capture_output=True,
            timeout=120,
            check=True,
        )
    assert "grants-auditor report: drifted" in dom and "Findings and fixes (5)" in dom
    image = shot.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 20_000  # a blank page compresses to far less


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES, st.sampled_from(list(Status)))
def test_hostile_names_stay_text_in_html(name: str, status: Status) -> None:
    page = parse(render(report_with(f"n{name}", status), "html"))  # non-empty: every optional part is shown
    plain = parse(render(report_with("plain", status), "html"))
    assert [tag for tag, _ in page.tags] == [tag for tag, _ in plain.tags]  # no element injected, none lost
    assert external_references(page) == []
    assert escape_controls(f"n{name} holds SELECT") in "".join(page.text)


@pytest.mark.parametrize("name", HOSTILE)
def test_known_hostile_names_appear_escaped_in_html(name: str) -> None:
    document = render(report_with(name), "html")
    assert "<script>alert(1)</script>" not in document
    assert "&lt;script&gt;" in document or "<script" not in name


# ---- SARIF ---------------------------------------------------------------------------------------------------


@cache
def sarif_validator() -> Any:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def test_sarif_validates_against_the_official_schema_and_carries_rules_levels_and_fixes() -> None:
    record = drifted_record()
    log = json.loads(render(record, "sarif"))
    sarif_validator().validate(log)
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    results = run["results"]
    assert len(results) == len(record.report.findings)
    by_rule = {r["id"]: r for r in rules}
    assert by_rule["DL-5"]["helpUri"] == "https://segment.com/docs/connections/storage/catalog/databricks/"
    assert "Fix:" in by_rule["DL-5"]["help"]["text"]
    failing = {(r["ruleId"], r["properties"]["subject"]): r for r in results if r["kind"] == "fail"}
    assert {(rule, subject) for rule, subject, _ in non_pass(DRIFTED)} == set(failing)
    dl5 = failing[("DL-5", "warehouse:8a6f3d2c1b0e9f47")]
    assert dl5["level"] == "error" and "update-permissions" in dl5["message"]["text"]
    assert failing[("AWS-9", "pat:5e9e0005-0000-4000-8000-000000000005")]["level"] == "warning"
    dg3 = failing[("DG-3", "CATALOG:segment_profiles")]
    (location,) = dg3["locations"]
    kinds = [loc["kind"] for loc in location["logicalLocations"]]
    assert kinds == ["catalog", "principal"]
    assert {"workspace", "catalog", "schema", "table", "principal"} <= {loc["kind"] for loc in run["logicalLocations"]}
    assert all(r["level"] == "none" for r in results if r["kind"] == "pass")


def test_sarif_levels_follow_severity() -> None:
    assert {s: LEVELS[s] for s in Severity} == {
        Severity.CRITICAL: "error",
        Severity.HIGH: "error",
        Severity.MEDIUM: "warning",
        Severity.LOW: "note",
        Severity.INFO: "note",
    }


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES, st.sampled_from(list(Status)))
def test_sarif_stays_valid_whatever_the_name(name: str, status: Status) -> None:
    log = json.loads(render(report_with(name, status), "sarif"))
    sarif_validator().validate(log)
    (result,) = log["runs"][0]["results"]
    assert result["properties"]["subject"] == f"CATALOG:{name}"


# ---- SQL and markdown ----------------------------------------------------------------------------------------


def test_the_sql_script_starts_by_naming_the_failures_it_cannot_fix() -> None:
    script = render(drifted_record(), "sql")
    header = script[: script.index("\nGRANT ")]
    named = {line.split()[1] for line in header.splitlines() if line.startswith("--   ")}
    assert named == {"DL-5", "AWS-6", "AWS-9"}  # a warehouse ACL, a trust policy, a token: none of them SQL
    assert "--format plan" in header


def test_the_markdown_report_has_every_review_section() -> None:
    text = render(drifted_record(), "markdown")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Summary",
        "## About this audit",
        "## Integrations by requirement",
        "## Findings and fixes",
        "## Excess and exposure: REVOKE suggestions, for review",
        "## Suppressions",
        "## Not applicable",
        "## Blind spots",
        "## Drift since the baseline",
        "## Passing",
    ]
    assert "<https://segment.com/docs/connections/storage/catalog/databricks/>" in text


# ---- `report` from the state store ---------------------------------------------------------------------------


def as_target(snapshot: Snapshot, target: str, minutes: int) -> Snapshot:
    return snapshot.model_copy(
        update={"target": target, "collected_at": snapshot.collected_at + timedelta(minutes=minutes)}
    )


def stored(tmp_path: Path, *targets: str) -> Path:
    """A config of ``targets`` and its state store: per target two healthy cycles (the first approved as the
    baseline; two reads establish each scope at debounce 2), then two drifted ones that confirm the changes."""
    drifted = load_snapshot(DRIFTED_SNAPSHOT)
    healthy = load_snapshot(HEALTHY_SNAPSHOT)
    config = tmp_path / "auditor.yaml"
    target = {
        "databricks": {"host": "http://127.0.0.1:9", "auth": {"type": "pat", "token": "dapi-x-123"}},
        "integrations": [b.model_dump(exclude_none=True) for b in drifted.integrations],
    }
    config.write_text(
        yaml.safe_dump({"state": {"path": "state.sqlite"}, "targets": [{"name": t, **target} for t in targets]})
    )
    with StateStore(tmp_path / "state.sqlite") as store:
        for name in targets:
            for minutes, source in ((0, healthy), (5, healthy), (10, drifted), (15, drifted)):
                snapshot = as_target(source, name, minutes)
                record_cycle(
                    store,
                    snapshot=snapshot,
                    report=evaluate(snapshot, PACKS, now=snapshot.collected_at),
                    stats=CollectionStats(),
                    started_at=snapshot.collected_at,
                    finished_at=snapshot.collected_at + timedelta(seconds=1),
                    debounce_cycles=2,
                )
                if minutes == 0:
                    store.approve_baseline(
                        name, snapshot, approved_by="alice", source="cycle 1", approved_at=snapshot.collected_at
                    )
    return config


def test_report_renders_the_latest_stored_cycle_with_the_drift_since_the_baseline(tmp_path: Path) -> None:
    config = stored(tmp_path, "prod")
    out = tmp_path / "report.html"
    assert main(["report", "--config", str(config), "--format", "html", "--out", str(out)]) == ExitCode.FAILING
    text = " ".join(parse(out.read_text(encoding="utf-8")).text)
    assert "Baseline approved" in text and "alice" in text
    assert "grant_removed" in text and "warehouse_acl_changed" in text  # the drift timeline has rows
    assert "Findings and fixes (5)" in text

    markdown = tmp_path / "report.md"
    assert main(["report", "--config", str(config), "--format", "markdown", "-o", str(markdown)]) == ExitCode.FAILING
    document = markdown.read_text(encoding="utf-8")
    assert "No drift recorded." not in document and "grant\\_removed" in document
    tokens = MarkdownIt("commonmark").parse(document)
    assert not [token for token in tokens if token.type in ("html_block", "html_inline")]


def test_report_writes_one_document_per_target(tmp_path: Path) -> None:
    config = stored(tmp_path, "prod", "staging")
    out = tmp_path / "out" / "report.sarif"
    out.parent.mkdir()
    assert main(["report", "--config", str(config), "--format", "sarif", "--out", str(out)]) == ExitCode.FAILING
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.prod.sarif", "report.staging.sarif"]
    for path in out.parent.iterdir():
        sarif_validator().validate(json.loads(path.read_text(encoding="utf-8")))


def test_report_selects_findings_and_sets_the_exit_threshold_like_check(tmp_path: Path) -> None:
    config = stored(tmp_path, "prod")
    out = tmp_path / "report.json"
    code = main(["report", "--config", str(config), "--format", "json", "--rules", "DL-*", "--out", str(out)])
    rules = {f["rule_id"] for f in json.loads(out.read_text(encoding="utf-8"))["findings"]}
    assert rules and all(rule.startswith("DL-") for rule in rules)
    assert code == ExitCode.FAILING  # DL-5 fails on drifted
    threshold = ["report", "--config", str(config), "--format", "json", "--rules", "DG-8", "--out", str(out)]
    assert main(threshold) == ExitCode.FAILING  # DG-8 fails, severity high
    assert main([*threshold, "--fail-on", "critical"]) == ExitCode.OK  # below the threshold


def test_report_without_a_state_store_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    integrations = [b.model_dump(exclude_none=True) for b in load_snapshot(DRIFTED_SNAPSHOT).integrations]
    config = tmp_path / "auditor.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": [
                    {
                        "name": "prod",
                        "databricks": {"host": "http://127.0.0.1:9", "auth": {"type": "pat", "token": "dapi-x-123"}},
                        "integrations": integrations,
                    }
                ],
                "state": {"path": str(tmp_path / "none.sqlite")},
            }
        )
    )
    assert main(["report", "--config", str(config), "--format", "json"]) == ExitCode.BAD_INPUT
    assert "no state store" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "none.sqlite")
