"""The real captures in ../shared/realdata: every event in, none invented, values as AWS wrote them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trailsmith
from helpers.paths import REALDATA

pytestmark = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real captures not present at {REALDATA}")


def raw_events() -> list[dict]:
    events: list[dict] = []
    for path in sorted(REALDATA.rglob("*.json")):
        text = path.read_text()
        if text.lstrip().startswith("["):
            events.extend(json.loads(text))
        else:
            events.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return events


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("real") / "wh"
    report = trailsmith.ingest([str(REALDATA)], path, workers=2)
    assert report.quarantined == 0
    assert report.skipped == {"other": 4}  # README.md, two LICENSE files, the dataset's YAML description
    return path


def test_every_event_in_none_invented(warehouse: Path) -> None:
    events = raw_events()
    assert len(events) == 413
    stored = trailsmith.query("SELECT eventID FROM events", warehouse).column("eventID").to_pylist()
    assert sorted(stored) == sorted(e["eventID"] for e in events)


def test_values_are_kept_as_recorded(warehouse: Path) -> None:
    by_id = {e["eventID"]: e for e in raw_events()}
    table = trailsmith.query(
        "SELECT eventID, eventSource, eventName, awsRegion, sourceIPAddress, errorCode, recipientAccountId, "
        "userIdentity, requestParameters, responseElements, additionalEventData, resources, readOnly, "
        "extraFields, strftime(eventTime, '%Y-%m-%dT%H:%M:%S') AS t FROM events",
        warehouse,
    )
    for row in table.to_pylist():
        raw = by_id[row["eventID"]]
        for name in (
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "errorCode",
            "recipientAccountId",
        ):
            assert row[name] == raw.get(name), name
        assert row["readOnly"] == raw.get("readOnly")
        for blob in ("requestParameters", "responseElements", "additionalEventData"):
            assert (None if row[blob] is None else json.loads(row[blob])) == raw.get(blob), blob
        identity = {k: v for k, v in row["userIdentity"].items() if v is not None}
        for key, value in raw["userIdentity"].items():
            if key != "sessionContext":
                assert identity[key] == value
        issuer = raw["userIdentity"].get("sessionContext", {}).get("sessionIssuer", {}).get("arn")
        assert (row["userIdentity"]["sessionContext"] or {}).get("sessionIssuer", {}).get("arn") == issuer
        assert (row["resources"] or None) == (
            [{k: r.get(k) for k in ("ARN", "accountId", "type", "ARNPrefix")} for r in raw["resources"]]
            if "resources" in raw
            else None
        )
        time_text = raw.get("eventTime") or raw["@timestamp"]
        assert row["t"] == time_text[:19]
        if "@timestamp" in raw:  # the forwarder's own fields are kept, not dropped
            assert json.loads(row["extraFields"]) == {
                "@timestamp": raw["@timestamp"],
                "@version": raw["@version"],
            }
        else:
            assert row["extraFields"] is None


def test_policy_holders(warehouse: Path) -> None:
    table = trailsmith.query("SELECT eventID, principalArn FROM events", warehouse)
    holder = dict(
        zip(table.column("eventID").to_pylist(), table.column("principalArn").to_pylist(), strict=True)
    )
    kinds = set()
    for raw in raw_events():
        identity = raw["userIdentity"]
        kind = identity.get("type")
        kinds.add(kind)
        if kind == "IAMUser":
            assert holder[raw["eventID"]] == identity["arn"]
        elif kind in ("AssumedRole", "FederatedUser"):  # the role (with its path), or the federating user
            assert holder[raw["eventID"]] == identity["sessionContext"]["sessionIssuer"]["arn"]
        else:
            assert holder[raw["eventID"]] is None
    assert kinds == {"IAMUser", "AssumedRole", "FederatedUser", "AWSService"}
    sso = [h for h in holder.values() if h and "AWSReservedSSO" in h]
    assert sso and all(h.startswith("arn:aws:iam::") and "/aws-reserved/sso.amazonaws.com/" in h for h in sso)
