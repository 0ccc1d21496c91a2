"""`config validate` refuses what can be known wrong offline: the workspace URL's form and the SQL http_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditor.cli import main
from auditor.cli.exit_codes import ExitCode

CONFIG = """\
targets:
  - name: t1
    databricks:
      host: {host}
      auth: {{type: pat, token: dapi-not-a-secret}}
      http_path: {http_path}
    integrations:
      - pack: delta-lake-destination
        params:
          client_id: 5e9e0003-0000-4000-8000-000000000003
          warehouse_id: abc123
          catalog: segment_events
"""


def validate(tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, http_path: str) -> tuple[int, str]:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(host=host, http_path=http_path), encoding="utf-8")
    code = main(["config", "validate", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "host",
    [
        "https://dbc-1234567890123456.cloud.databricks.com",
        "https://dbc-1234567890123456.cloud.databricks.com/",
        "dbc-1234567890123456.cloud.databricks.com",
        "http://127.0.0.1:8443",
        "http://[::1]:8443",
    ],
)
def test_workspace_urls_of_the_usual_forms_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str) -> None:
    assert validate(tmp_path, capsys, host, "/sql/1.0/warehouses/abc123") == (ExitCode.OK, "")


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("ftp://dbc-1.cloud.databricks.com", "https://"),
        ("https://dbc-1.cloud.databricks.com/?o=1234", "without a path, query or fragment"),
        ("https://dbc-1.cloud.databricks.com/sql/1.0", "without a path, query or fragment"),
        ("https://dbc-1.cloud.databricks.com#x", "without a path, query or fragment"),
        ("https://user:pw@dbc-1.cloud.databricks.com", "credentials"),
        ("https://dbc 1.cloud.databricks.com", "must name a host"),
        ("https://:443", "must name a host"),
        ("https://dbc-1.cloud.databricks.com:99999", "not a URL"),
    ],
)
def test_malformed_workspace_urls_are_refused_with_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], host: str, reason: str
) -> None:
    code, err = validate(tmp_path, capsys, f"'{host}'", "/sql/1.0/warehouses/abc123")
    assert code == ExitCode.BAD_INPUT
    assert ":4: targets[0].databricks.host:" in err and reason in err, err


@pytest.mark.parametrize("http_path", ["sql/1.0/warehouses/abc123", "'/sql/1.0/ warehouses/abc123'"])
def test_an_http_path_must_be_an_absolute_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], http_path: str
) -> None:
    code, err = validate(tmp_path, capsys, "https://dbc-1.cloud.databricks.com", http_path)
    assert code == ExitCode.BAD_INPUT
    assert ":6: targets[0].databricks.http_path: http_path must" in err, err
