"""Expected findings, derived from the problems a scenario or a test snapshot plants.

A golden number (how many findings fail, warn or error) is never copied from the auditor's output: it is
counted from a table of problems, each naming the findings it breaks, as (rule ID, subject, status). Everything
a table does not name passes, so the pass count is the healthy total minus the broken findings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from auditor.model.findings import Status
from tests.rules.documented import AWS, DG, DL, PS, RETL, WAREHOUSE

Broken = tuple[str, str, Status]
"""One finding a problem breaks: (rule ID, subject, the status it then has)."""

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS_DOC = ROOT / "docs" / "sandbox-scenarios.md"


@dataclass(frozen=True)
class Problem:
    what: str
    breaks: tuple[Broken, ...]


def non_pass(problems: Iterable[Problem]) -> set[Broken]:
    """Every finding the problems break; all others pass."""
    return {broken for problem in problems for broken in problem.breaks}


def summary(problems: Iterable[Problem], healthy_total: int) -> dict[str, int]:
    """The report summary the problems imply, given how many findings the healthy workspace has."""
    broken = non_pass(problems)
    counts = Counter(status for _, _, status in broken)
    return {
        "pass": healthy_total - len(broken),
        "fail": counts[Status.FAIL],
        "warn": counts[Status.WARN],
        "error": counts[Status.ERROR],
        "suppressed": counts[Status.SUPPRESSED],
    }


# `drifted` (the sandbox scenario, and examples/snapshots/drifted.json): healthy plus the six problems of
# docs/sandbox-scenarios.md, in its order.
DRIFTED: tuple[Problem, ...] = (
    Problem(
        "the Data Graph SP's USE SCHEMA on catalog segment_profiles is revoked, so it cannot read either",
        (("DG-3", "CATALOG:segment_profiles", Status.FAIL), ("DG-8", "CATALOG:segment_profiles", Status.FAIL)),
    ),
    Problem(
        "the Delta Lake SP's warehouse permission is lowered from CAN_USE to CAN_VIEW",
        (("DL-5", f"warehouse:{WAREHOUSE}", Status.FAIL),),
    ),
    Problem("the AWS SP's token expires in 5 days", (("AWS-9", f"pat:{AWS}", Status.WARN),)),
    Problem(
        "the trust policy's sts:ExternalId list lacks Segment's workspace ID",
        (("AWS-6", "storage_credential:segment-lake-cred", Status.FAIL),),
    ),
    Problem("the Profiles Sync SP holds ALL PRIVILEGES on catalog main", (("X-1", f"principal:{PS}", Status.FAIL),)),
    Problem(
        "a new user holds SELECT on catalog segment_profiles (customer profiles)",
        (("X-2", "CATALOG:segment_profiles", Status.FAIL),),
    ),
)

_NOT_METASTORE_ADMIN = Status.ERROR
NONADMIN_AUDITOR: tuple[Problem, ...] = (
    *(p for p in DRIFTED if not p.what.startswith("a new user")),
    Problem(
        "the auditor is not a metastore admin and does not own segment_profiles: information_schema hides the "
        "contractor's SELECT on a table there, and the watch and the principal sweep cannot be complete",
        (
            ("X-2", "CATALOG:segment_profiles", _NOT_METASTORE_ADMIN),
            ("DG-6", "CATALOG:segment_profiles", _NOT_METASTORE_ADMIN),
            *(("X-1", f"principal:{p}", _NOT_METASTORE_ADMIN) for p in (RETL, DG, DL, AWS)),
            # X-3 (the auditor's own access) names every scope it could not see
            ("X-3", "auditor", Status.FAIL),
        ),
    ),
)
"""`nonadmin-auditor`: drifted's problems 1-5 (the Profiles Sync SP's excess grant on main is still SEEN, so X-1
fails for it) and the exposure moved out of the auditor's sight."""

METASTORE_EXCESS: tuple[Problem, ...] = (
    Problem("the Reverse ETL SP holds CREATE CATALOG on the metastore", (("X-1", f"principal:{RETL}", Status.FAIL),)),
)
"""`metastore-excess` (on a runtime without storage_credential_privileges)."""

_PLANTED_IN_SCENARIO = re.compile(
    r"^#\s+(?P<n>\d+)\. .*\((?P<rules>[A-Z0-9\- ,and]+?) (?:fails?|warns?)\)$", re.MULTILINE
)
_DOCUMENTED_PROBLEM = re.compile(
    r"^(?P<n>\d+)\. .*\((?P<rules>[A-Z0-9\- ,and]+?) (?:fails?|warns?)\)\.?$", re.MULTILINE
)


def documented_drifted_rules() -> list[set[str]]:
    """For each numbered problem of `drifted` in docs/sandbox-scenarios.md, the rule IDs it says break."""
    text = SCENARIOS_DOC.read_text(encoding="utf-8")
    section = text.split("## `drifted`", 1)[1].split("\n## ", 1)[0]
    return [set(re.findall(r"[A-Z]+-\d+", m["rules"])) for m in _DOCUMENTED_PROBLEM.finditer(section)]


def scenario_drifted_rules() -> list[set[str]]:
    """For each problem the `drifted` scenario file lists in its header, the rule IDs it says break."""
    text = (resources.files("auditor_sandbox") / "scenarios" / "drifted.yaml").read_text(encoding="utf-8")
    return [set(re.findall(r"[A-Z]+-\d+", m["rules"])) for m in _PLANTED_IN_SCENARIO.finditer(text)]
