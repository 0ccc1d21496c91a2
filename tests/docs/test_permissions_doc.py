"""docs/permissions.md has one anchor per fact family, and every link preflight prints lands on one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from auditor.cli.preflight import _as_text
from auditor.collect import preflight
from auditor.collect.preflight import PreflightResult
from auditor.model.facts import FactFamily, ReadState, ReadStatus
from auditor.model.stats import CollectionStats
from auditor_sandbox import Sandbox
from tests.collect.conftest import NOW, target_for

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "permissions.md"
LINK = re.compile(r"docs/permissions\.md#([\w-]+)")


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors() -> set[str]:
    return {_slug(line.lstrip("#")) for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


@pytest.mark.parametrize("family", list(FactFamily), ids=lambda f: f.value)
def test_every_fact_family_has_an_anchor(family: FactFamily) -> None:
    headings = {line[3:].strip() for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("## ")}
    assert family.value in headings
    assert family.value in anchors()


@pytest.mark.parametrize("state", [ReadState.NOT_VISIBLE, ReadState.FAILED])
def test_every_link_preflight_can_print_resolves(state: ReadState) -> None:
    """Preflight links each family it could not read; with every family unread, every link it can print shows."""
    blind = PreflightResult(
        target="t",
        identity=None,
        identity_kind=None,
        groups=(),
        families=tuple(ReadStatus(family=f, state=state, reason="x") for f in FactFamily),
        warehouse_state=None,
        stats=CollectionStats(),
    )
    printed = set(LINK.findall(_as_text(blind)))
    assert printed == {f.value for f in FactFamily}
    assert printed <= anchors()


def test_the_links_of_a_real_non_admin_preflight_resolve() -> None:
    with Sandbox.start("healthy", now=NOW) as sandbox:
        sandbox.state.credentials.add_token("analyst@example.com", "dapi-sandbox-analyst-0002")
        target = target_for(sandbox, databricks={"auth": {"type": "pat", "token": "dapi-sandbox-analyst-0002"}})
        text = _as_text(preflight(target))
    printed = set(LINK.findall(text))
    assert {"tokens", "workspace_conf", "token_permissions"} <= printed
    assert printed <= anchors()


def test_the_doc_links_within_itself_resolve() -> None:
    internal = set(re.findall(r"\]\(#([\w-]+)\)", DOC.read_text(encoding="utf-8")))
    assert internal and internal <= anchors()


def test_the_doc_and_the_example_config_recommend_a_metastore_admin_not_a_workspace_admin_alone() -> None:
    doc = DOC.read_text(encoding="utf-8")
    assert "metastore admin" in doc and "A workspace admin is not enough" in doc
    example = (ROOT / "config" / "example.yaml").read_text(encoding="utf-8")
    assert "metastore admin" in example and "docs/permissions.md" in example
