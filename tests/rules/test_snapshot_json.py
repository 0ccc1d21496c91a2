"""A facts snapshot survives JSON unchanged: datetimes (any offset), dict documents, every family."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.evaluate.engine import evaluate
from auditor.evaluate.registry import builtin_kind_args
from auditor.loading import load_snapshot
from auditor.model.facts import OAuthSecret, Snapshot, Token, TrustPolicy
from auditor.packs.loader import load_packs
from tests.rules.documented import NOW, ROLE_ARN, change, healthy


def test_documented_snapshot_round_trips_through_a_file(tmp_path: Path) -> None:
    original = healthy()
    original.dump(tmp_path / "snapshot.json")
    loaded = load_snapshot(tmp_path / "snapshot.json")
    assert loaded == original
    assert loaded.to_json() == original.to_json()
    assert loaded.trust_policies[0].document == original.trust_policies[0].document
    assert loaded.collected_at == NOW and loaded.collected_at.tzinfo is not None


def test_round_trip_keeps_the_evaluation() -> None:
    packs = load_packs(kinds=builtin_kind_args())
    original = healthy()
    reloaded = Snapshot.from_json(original.to_json())
    assert evaluate(reloaded, packs, now=NOW) == evaluate(original, packs, now=NOW)


def test_to_dict_is_plain_json() -> None:
    data = healthy().to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["collected_at"] == "2026-11-21T12:00:00Z"


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(max_size=12)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
json_documents = st.dictionaries(st.text(max_size=8), json_values, max_size=5)
aware_datetimes = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]),
)


@settings(derandomize=True, deadline=None, database=None, max_examples=60)
@given(
    json_documents,
    aware_datetimes,
    st.none() | aware_datetimes,
    st.dictionaries(st.text(min_size=1, max_size=10), st.none() | st.text(max_size=10), max_size=4),
)
def test_any_documents_and_datetimes_round_trip(
    document: dict[str, Any], moment: datetime, expiry: datetime | None, conf: dict[str, str | None]
) -> None:
    snapshot = change(
        healthy(),
        collected_at=moment,
        workspace_conf=conf,
        trust_policies=(
            TrustPolicy(role_arn=ROLE_ARN, document=document),
            TrustPolicy(role_arn=ROLE_ARN + "-raw", raw="{not json", decode_error="Expecting value"),
        ),
        tokens=(Token(token_id="t", owner="o", creation_time=moment, expiry_time=expiry),),
        oauth_secrets=(OAuthSecret(application_id="a", secret_id="s", status="ACTIVE", expire_time=expiry),),
    )
    loaded = Snapshot.from_json(snapshot.to_json())
    assert loaded == snapshot
    assert loaded.trust_policies[0].document == document
    assert loaded.collected_at == moment and loaded.collected_at.utcoffset() == moment.utcoffset()
