"""Helpers shared by the policy tests: synthetic warehouses with their ground truth, and the comparison."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trailsmith
from helpers.events import event, write_records
from trailsmith.policy.arns import covers
from trailsmith.policy.model import PrincipalPolicy
from trailsmith.synth import SynthConfig, SynthReport, generate

#: A second, busier archive than the sample: more calls per template, so more resources per action.
BUSY = SynthConfig(
    seed=7,
    accounts=2,
    regions=("us-east-1", "eu-west-1"),
    days=2,
    events=20_000,
    file_minutes=60,
    duplicates=0.05,
)


@dataclass(frozen=True)
class Synthetic:
    archive: Path
    warehouse: Path
    truth: SynthReport


def synthetic(root: Path, config: SynthConfig) -> Synthetic:
    """Generate ``config`` under ``root`` and ingest it."""
    archive, warehouse = root / "archive", root / "wh"
    truth = generate(archive, config)
    report = trailsmith.ingest([str(archive)], warehouse, workers=1)
    assert report.quarantined == 0 and report.events_new == truth.totals.events
    return Synthetic(archive, warehouse, truth)


def problems(policies: list[PrincipalPolicy], truth: SynthReport, *, scoped: bool = True) -> list[str]:
    """Every disagreement between generated policies and the ground truth ([] when they agree).

    Per policy holder: exactly the needed actions; every needed (action, ARN) allowed by a statement of
    that action; with ``scoped``, never only through ``"*"`` when the truth names a resource; no denied
    (action, ARN) allowed (without ``scoped``: no denied action that was never needed); every passed
    role allowed with the right ``iam:PassedToService``.
    """
    found = {p.principal: p for p in policies}
    out: list[str] = []
    for arn, holder in sorted(truth.holders.items()):
        need = {action for action, _ in holder.needed}
        policy = found.get(arn)
        if policy is None:
            if need:
                out.append(f"{arn}: no policy, needs {sorted(need)}")
            continue
        got = set(policy.actions)
        if got != need:
            out.append(f"{arn}: extra {sorted(got - need)}, missing {sorted(need - got)}")
        statements = policy.statements
        for action, resource in sorted(holder.needed):
            covering = [
                s for s in statements if action in s.actions and any(covers(r, resource) for r in s.resources)
            ]
            if not covering:
                out.append(f"{arn}: {action} on {resource} not allowed")
            elif scoped and resource != "*" and all(s.resources == ("*",) for s in covering):
                out.append(f"{arn}: {action} on {resource} only allowed through '*'")
        for action, resource in sorted(holder.denied):
            if not scoped and action in need:
                continue  # service-wide resources allow every resource of a needed action, denied ones too
            if any(action in s.actions and any(covers(r, resource) for r in s.resources) for s in statements):
                out.append(f"{arn}: denied {action} on {resource} is allowed")
        for role, service, _profile in sorted(holder.passroles):
            if not any(
                "iam:PassRole" in s.actions
                and any(covers(r, role) for r in s.resources)
                and [(c.key, c.values) for c in s.conditions] == [("iam:PassedToService", (service,))]
                for s in statements
            ):
                out.append(f"{arn}: passing {role} to {service} not allowed")
    for principal in found:
        if principal not in truth.holders:
            out.append(f"{principal}: a policy for no holder of the truth")
    return out


#: The bucket of :func:`lake_warehouse`.
LAKE = "analytics-lake-eu-west-1"


def object_calls(first: int, bucket: str, keys: list[str], name: str = "GetObject") -> list[dict[str, Any]]:
    """One S3 object call (of the Builder role of :mod:`helpers.events`) per key."""
    records = []
    for n, key in enumerate(keys, start=first):
        record = event(n, eventName=name, readOnly=name == "GetObject")
        record["requestParameters"] = {"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"}
        record["resources"] = [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"}]
        records.append(record)
    return records


def lake_warehouse(root: Path) -> Path:
    """A warehouse under ``root`` whose one role needs 80 documents of exact ARNs: it read 4,000 objects in
    240 hourly folders and 4 config files of another bucket, and wrote 1,500 objects into one folder."""
    raw = [
        f"raw/events/2024/03/{(n % 240) // 24 + 1:02d}/{n % 24:02d}/part-{n:05d}.snappy.parquet"
        for n in range(4000)
    ]
    curated = [f"curated/orders/part-{n:05d}.parquet" for n in range(1500)]
    configs = [f"{service}/settings.json" for service in ("api", "web", "jobs", "auth")]
    records = (
        object_calls(0, LAKE, raw)
        + object_calls(10_000, LAKE, curated, "PutObject")
        + object_calls(20_000, "app-config-eu", configs)
    )
    write_records(root / "in" / "a.json.gz", records)
    trailsmith.ingest([str(root / "in")], root / "wh", workers=1)
    return root / "wh"
