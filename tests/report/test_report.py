"""``trailsmith report`` without a browser: one self-contained file, hostile values escaped, numbers from SQL,
a bounded size, and a page over the real captures too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from markupsafe import escape

import trailsmith
import trailsmith.policy.generator as policy
from helpers.events import ACCOUNT, event, s3_key, write_records
from helpers.paths import IAM_FIXTURES, REALDATA
from trailsmith.check.run import check
from trailsmith.check.sources import load_sources
from trailsmith.cli.app import DEBUG_VARIABLE, main
from trailsmith.iam.export import read_authorization_details
from trailsmith.report import build, render

HOSTILE = "</script><img src=x onerror=alert(1)>"
#: what would load something: a script, a style sheet, an image or a frame from elsewhere
LOADS = re.compile(r"<(script|link|img|iframe|object|embed)\b[^>]*\b(src|href|data)\s*=", re.IGNORECASE)


@pytest.fixture(scope="module")
def sample_page(sample_warehouse: Path) -> str:
    return render.render(build.gather(sample_warehouse)).decode()


def sql(warehouse: Path, text: str) -> list[dict]:
    return trailsmith.query(text, warehouse).to_pylist()


def test_the_page_loads_nothing_from_elsewhere(sample_page: str) -> None:
    assert LOADS.search(sample_page) is None
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", sample_page, re.IGNORECASE)
    assert "@import" not in sample_page and "url(" not in sample_page
    # the one script, inline, and the one style sheet, inline
    assert sample_page.count("<script>") == 1 and sample_page.count("</script>") == 1
    assert sample_page.count("<style>") == 1


def test_the_numbers_are_the_warehouse_s(sample_warehouse: Path, sample_page: str) -> None:
    [archive] = sql(
        sample_warehouse,
        "SELECT count(*) AS events, count(DISTINCT sourceFile) AS files, "
        "count(DISTINCT recipientAccountId) AS accounts FROM events",
    )
    for name in ("events", "files", "accounts"):
        assert f'<b id="{name}">{archive[name]:,}</b>' in sample_page
    principals = sql(
        sample_warehouse, "SELECT principalArn, calls, denied FROM principals ORDER BY calls DESC"
    )
    assert f'<b id="principal-count">{len(principals)}</b>' in sample_page
    table = sample_page.split('id="principal-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == len(principals) + 1  # the header row too
    busiest = principals[0]
    row = table.split(f'data-sort="{busiest["principalArn"]}"')[1].split("</tr>")[0]
    assert f'data-sort="{busiest["calls"]}"' in row and f'data-sort="{busiest["denied"]}"' in row


def test_passrole_is_the_saved_query_s(sample_warehouse: Path, sample_page: str) -> None:
    passed = trailsmith.run_saved("passed_roles", sample_warehouse).to_pylist()
    table = sample_page.split('id="passrole-table"')[1].split("</table>")[0]
    assert len(passed) > 0 and table.count("<tr>") == len(passed) + 1
    for row in passed:
        assert str(escape(row["role"])) in table and row["service"] in table


def test_each_section_holds_the_generated_policy(sample_warehouse: Path, sample_page: str) -> None:
    principals = sql(
        sample_warehouse, "SELECT principalArn FROM principals ORDER BY calls DESC, principalArn"
    )
    assert sample_page.count('<details class="principal"') == len(principals)
    [generated] = policy.generate(sample_warehouse, [principals[0]["principalArn"]])
    first = sample_page.split('<details class="principal" id="p0">')[1].split("</details>")[0]
    assert principals[0]["principalArn"] in first
    assert "<svg" in first and "<rect" in first
    assert str(escape(generated.to_json())) in first


def test_hostile_values_are_escaped(tmp_path: Path) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/{HOSTILE}"
    issuer = event(0)["userIdentity"]["sessionContext"]["sessionIssuer"] | {"arn": role}
    identity = event(0)["userIdentity"] | {"sessionContext": {"sessionIssuer": issuer}}
    records = [
        event(n, userIdentity=identity, eventName=HOSTILE if n % 2 else "GetObject", errorCode="AccessDenied")
        for n in range(4)
    ] + [event(9, userIdentity=identity, recipientAccountId="999999999999")]
    write_records(tmp_path / "in" / s3_key(), records)
    trailsmith.ingest([str(tmp_path / "in")], tmp_path / "wh", workers=1)
    assert sql(tmp_path / "wh", "SELECT DISTINCT principalArn FROM events") == [{"principalArn": role}]

    page = render.render(build.gather(tmp_path / "wh")).decode()
    assert "<img" not in page and "onerror=alert(1)>" not in page
    assert page.count("</script>") == 1
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # the call into another account is listed as cross-account access, escaped too
    cross = page.split('id="cross-account-table"')[1].split("</table>")[0]
    assert "999999999999" in cross and str(escape(role)) in cross


def test_the_size_stays_under_the_bound(sample_warehouse: Path, sample_page: str) -> None:
    full = len(sample_page.encode())
    assert full < render.MAX_BYTES
    report = build.gather(sample_warehouse)
    smaller = render.render(report, max_bytes=full // 2)
    assert len(smaller) <= full // 2
    shown = smaller.decode().count('<details class="principal"')
    assert 0 < shown < len(report.details)
    assert (
        f"The {shown} most active of {report.principals_total} principals have a section" in smaller.decode()
    )


def test_an_export_adds_the_unused_share(sample_warehouse: Path) -> None:
    details = read_authorization_details(IAM_FIXTURES / "sample-062058595613.json")
    report = build.gather(sample_warehouse, details=details)
    shares = {p.arn: p.unused_share for p in report.principals if p.unused_share is not None}
    assert shares and all(0.0 <= s <= 1.0 for s in shares.values())
    page = render.render(report).decode()
    assert ">unused share</th>" in page and "Unused permissions" in page


@pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real captures not present at {REALDATA}")
def test_the_real_captures_render(tmp_path: Path) -> None:
    trailsmith.ingest([str(REALDATA)], tmp_path / "wh", workers=1)
    page = render.render(build.gather(tmp_path / "wh")).decode()
    [row] = sql(tmp_path / "wh", "SELECT count(*) AS n FROM events")
    assert row["n"] > 0 and f'<b id="events">{row["n"]:,}</b>' in page
    assert LOADS.search(page) is None and page.count("</script>") == 1


def test_the_command_writes_the_file(
    sample_warehouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    out = tmp_path / "report.html"
    main(
        ["report", "-w", str(sample_warehouse), "--since", "2024-08-02", "--out", str(out), "--sections", "3"]
    )
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count('<details class="principal"') == 3
    [row] = sql(sample_warehouse, "SELECT count(*) AS n FROM events WHERE eventTime >= '2024-08-02'")
    assert f'<b id="events">{row["n"]:,}</b>' in page
    assert f"wrote {out}" in capsys.readouterr().err


def test_an_empty_window_still_renders(sample_warehouse: Path) -> None:
    report = build.gather(sample_warehouse, since="2030-01-01")
    assert report.archive.events == 0 and report.principals == () and report.details == ()
    page = render.render(report).decode()
    assert '<b id="events">0</b>' in page and page.count("<tr>") == 1  # the table's header alone


def test_the_report_is_not_written_into_the_warehouse(
    sample_warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "-w", str(sample_warehouse), "--out", str(sample_warehouse / "report.html")])
    assert exited.value.code != 0 and not (sample_warehouse / "report.html").exists()
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("trailsmith: error: --out") and "inside the warehouse" in line


def test_an_unwritable_out_is_one_line(
    sample_warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "-w", str(sample_warehouse), "--out", str(tmp_path / "missing" / "r.html")])
    assert exited.value.code != 0
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("trailsmith: error:") and "--out" in line


def test_committed_policies_add_each_principal_s_drift(sample_warehouse: Path, tmp_path: Path) -> None:
    # the same findings trailsmith check gives, in the table and in the principal's section
    orders = "arn:aws:iam::062058595613:role/service-role/orders-api-exec"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Scan"], "Resource": "*"},
            {"Sid": "Never", "Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"},
        ],
    }
    (tmp_path / "orders.json").write_text(json.dumps(document))
    mapping = {str(tmp_path / "orders.json"): orders}
    expected = check(load_sources([tmp_path], mapping=mapping), sample_warehouse)
    [mine] = expected.principals
    assert mine.denied and {(u.kind, u.value) for u in mine.unused} == {
        ("action", "dynamodb:Scan"),
        ("statement", "Never"),
    }
    gathered = build.gather(sample_warehouse, committed=[tmp_path], mapping=mapping)
    page = render.render(gathered).decode()
    [row] = [p for p in gathered.principals if p.arn == orders]
    assert row.drift == len(mine.denied) + len(mine.unused)
    assert all(p.drift is None for p in gathered.principals if p.arn != orders)
    [section] = [d for d in gathered.details if d.row.arn == orders]
    assert section.drift == mine
    assert "Drift against the committed policies" in page
    drift = page.split('class="drift-unused"')[1].split("</table>")[0]
    assert "<code>s3:DeleteBucket</code>" not in drift and "<code>Never</code>" in drift
    assert "<code>dynamodb:Scan</code>" in drift
    assert page.split('class="drift-denied"')[1].split("</table>")[0].count("<tr>") == len(mine.denied) + 1
