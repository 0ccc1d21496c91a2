"""The Grafana dashboard queries only what a live daemon exports.

A daemon audits the sandbox (real collectors over HTTP); its /metrics scrape is parsed with prometheus_client's
parser. Every PromQL expression of the dashboard (panel targets and template variables) must pass
``promtool check rules`` (Prometheus' own parser), and every metric selector in it is read by a small selector
scanner below: each metric name must be in the scrape, each label name it uses (in matchers, in by/without/on
clauses, in legends) must be on that metric's series, and each literal label value must occur in them. ``job`` and
``instance`` are the labels Prometheus adds to every scraped series, and ``up`` the series it synthesises.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from auditor.daemon import Daemon
from auditor.settings import load_settings
from auditor_sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "config" / "grafana" / "grants-auditor.json"
JOB = "grants-auditor"
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
SYNTHETIC = {"up": {"job", "instance"}}  # series Prometheus itself makes per scrape target
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$target": ".*"}


GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk"}
AGGREGATIONS |= {"quantile", "limitk", "limit_ratio"}


@dataclass
class Selector:
    metric: str
    matchers: list[tuple[str, str, str]] = field(default_factory=list)  # (label, operator, value)


@dataclass
class Query:
    expr: str
    selectors: list[Selector]
    grouping: set[str]
    legend: set[str]


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
      | (?P<number>[0-9][0-9a-zA-Z.]*)
      | (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
      | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],])
    )""",
    re.VERBOSE,
)


def tokens(expr: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(expr.rstrip()):
        match = _TOKEN.match(expr, position)
        assert match and match.lastgroup, f"cannot scan {expr[position:]!r} in {expr!r}"
        found.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return found


def scan(expr: str) -> tuple[list[Selector], set[str]]:
    """The metric selectors of a PromQL expression, and the labels its by/without/on/ignoring clauses name."""
    items = tokens(expr)
    selectors: list[Selector] = []
    grouping: set[str] = set()
    index = 0
    while index < len(items):
        kind, text = items[index]
        following = items[index + 1][1] if index + 1 < len(items) else ""
        if kind == "op" and text == "[":  # a range or subquery duration
            index = next(i for i in range(index, len(items)) if items[i][1] == "]") + 1
            continue
        if kind == "op" and text == "{":
            raise AssertionError(f"a selector without a metric name in {expr!r}")
        if kind != "name" or text in KEYWORDS or text in AGGREGATIONS:
            index += 1
            continue
        if text in GROUPING:
            index += 1
            if following == "(":
                end = next(i for i in range(index, len(items)) if items[i][1] == ")")
                grouping |= {t for k, t in items[index + 1 : end] if k == "name"}
                index = end + 1
            continue
        if following == "(":  # a function or an aggregation
            index += 1
            continue
        selector = Selector(text)
        index += 1
        if following == "{":
            index += 1
            while items[index][1] != "}":
                (_, label), (_, operator), (_, value) = items[index : index + 3]
                selector.matchers.append((label, operator, json.loads(value) if value[0] == '"' else value[1:-1]))
                index += 3
                if items[index][1] == ",":
                    index += 1
            index += 1
        selectors.append(selector)
    return selectors, grouping


def dashboard_queries(dashboard: dict[str, Any]) -> list[Query]:
    queries: list[Query] = []

    def add(expr: str, legend: str = "") -> None:
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"an unknown Grafana variable in {expr!r}"
        selectors, grouping = scan(expr)
        queries.append(Query(expr, selectors, grouping, set(re.findall(r"\{\{\s*(\w+)\s*\}\}", legend))))

    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            add(target["expr"], target.get("legendFormat", ""))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        label_values = re.fullmatch(r"label_values\((?P<expr>.+),\s*(?P<label>\w+)\)", variable["definition"])
        assert label_values, variable["definition"]
        add(label_values["expr"], "{{" + label_values["label"] + "}}")
    return queries


def test_the_selector_scanner_reads_what_promql_says() -> None:
    selectors, grouping = scan(
        'sum by (target, api) (increase(a_total{job="x", api=~"sql|iam"}[1h])) / on (target) group_left (api)'
        " (b - time()) < 14 * 86400 > 0 or absent(c{x!='y'}) and d"
    )

    assert [(s.metric, s.matchers) for s in selectors] == [
        ("a_total", [("job", "=", "x"), ("api", "=~", "sql|iam")]),
        ("b", []),
        ("c", [("x", "!=", "y")]),
        ("d", []),
    ]
    assert grouping == {"target", "api"}


@pytest.fixture(scope="module")
def scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, list[dict[str, str]]]]:
    """A live daemon's /metrics after its first cycle against the drifted sandbox: metric name -> label sets."""
    tmp = tmp_path_factory.mktemp("dashboard")
    with Sandbox.start(scenario="drifted", port=0) as sandbox:
        config = sandbox.config_dict(auth="pat")
        config["state"] = {"path": str(tmp / "state.sqlite")}
        config["server"] = {"bind": "127.0.0.1", "port": 0}
        for target in config["targets"]:
            target["schedule"] = {"interval_seconds": 3600, "jitter_seconds": 0}
        path = tmp / "config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        daemon = Daemon(load_settings(path), config_path=path, grace_seconds=10)
        daemon.start()
        try:
            assert daemon.wait_for_cycles("sandbox", 1, timeout=90)
            deadline = time.monotonic() + 30
            with urllib.request.urlopen(f"{daemon.url}/metrics", timeout=10) as response:
                text = response.read().decode()
            while "grants_auditor_last_success_timestamp_seconds" not in text and time.monotonic() < deadline:
                time.sleep(0.2)
                with urllib.request.urlopen(f"{daemon.url}/metrics", timeout=10) as response:
                    text = response.read().decode()
        finally:
            assert daemon.stop() is True
    series: dict[str, list[dict[str, str]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            series.setdefault(sample.name, []).append(dict(sample.labels))
    yield series


def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries(json.loads(DASHBOARD.read_text(encoding="utf-8")))
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package 'prometheus'; .ci/run installs it)"
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"dashboard:query_{i}", "expr": q.expr} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")

    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stdout + result.stderr
    assert len(queries) >= 15


def mismatches(dashboard: dict[str, Any], scrape: dict[str, list[dict[str, str]]]) -> list[str]:
    """What the dashboard's queries ask for that the scrape does not hold."""
    problems: list[str] = []
    for query in dashboard_queries(dashboard):
        available: set[str] = set(SCRAPE_LABELS)
        for selector in query.selectors:
            if selector.metric in SYNTHETIC:
                labels = SYNTHETIC[selector.metric]
                rows: list[dict[str, str]] = []
            elif selector.metric not in scrape:
                problems.append(f"{selector.metric} is not exported ({query.expr})")
                continue
            else:
                rows = scrape[selector.metric]
                labels = {name for row in rows for name in row} | SCRAPE_LABELS
            available |= labels
            for label, operator, value in selector.matchers:
                if label not in labels:
                    problems.append(f"{selector.metric} has no label {label} ({query.expr})")
                elif label == "job":
                    if operator != "=" or value != JOB:
                        problems.append(f"{selector.metric}: the scrape job is {JOB}, not {operator}{value!r}")
                elif label in SCRAPE_LABELS or not rows:
                    continue
                elif operator in ("=", "=~"):
                    wanted = [value] if operator == "=" else value.split("|")
                    if operator == "=~" and not all(re.fullmatch(r"[\w-]+", w) for w in wanted):
                        continue  # a pattern, not a list of values: nothing to look up
                    seen = {row.get(label) for row in rows}
                    missing = [w for w in wanted if w not in seen]
                    if missing:
                        problems.append(f"{selector.metric}{{{label}}} never takes {missing} ({query.expr})")
        for label in (query.grouping | query.legend) - available:
            problems.append(f"label {label} is on none of the queried series ({query.expr})")
    return problems


def test_every_dashboard_query_matches_exported_series(scrape: dict[str, list[dict[str, str]]]) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))

    assert mismatches(dashboard, scrape) == []


def test_a_query_for_a_series_that_does_not_exist_is_caught(scrape: dict[str, list[dict[str, str]]]) -> None:
    wrong = [
        ('grants_auditor_rules{status="failing"}', ""),  # no such value
        ('grants_auditor_rule_status{integration="retl"}', ""),  # no such label
        ("sum by (pack) (grants_auditor_rules)", ""),  # grouped by a label the metric lacks
        ("grants_auditor_cycle_duration_seconds", "{{pack}}"),  # a legend naming a missing label
        ("grants_auditor_findings_total", ""),  # no such metric
        ('up{job="auditor"}', ""),  # not the scrape job
    ]
    dashboard = {
        "panels": [{"targets": [{"expr": expr, "legendFormat": legend}]} for expr, legend in wrong],
        "templating": {"list": []},
    }

    assert len(mismatches(dashboard, scrape)) == len(wrong)


def test_the_dashboard_covers_what_operators_ask() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]

    for metric in (
        "grants_auditor_rule_status",  # rule status per integration and target
        "grants_auditor_rules",  # failing and suppressed by severity
        "grants_auditor_drift_events_total",
        "grants_auditor_credential_expiry_timestamp_seconds",
        "grants_auditor_last_success_timestamp_seconds",  # audit freshness
        "grants_auditor_api_errors_total",  # collection errors by API family
        "grants_auditor_cycle_duration_seconds",
    ):
        assert metric in exprs, metric
    assert 'status="suppressed"' in exprs
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(p["datasource"] == {"type": "prometheus", "uid": "${datasource}"} for p in panels)
    assert all(t["refId"] and t["expr"] for p in panels for t in p["targets"])
