"""The allowed/denied/unauthenticated classification, in Python and in SQL, agree."""

from __future__ import annotations

import duckdb
import pytest

from trailsmith.sql.authz import DENIED_CODES, UNAUTHENTICATED_CODES, outcome, outcome_sql

CASES = {
    None: "allowed",
    "": "allowed",
    "ThrottlingException": "allowed",
    "NoSuchKey": "allowed",
    "ValidationException": "allowed",
    "Client.RequestLimitExceeded": "allowed",
    "AccessDenied": "denied",
    "AccessDeniedException": "denied",
    "Client.UnauthorizedOperation": "denied",
    "AuthorizationError": "denied",
    "KMS.AccessDeniedException": "denied",
    "ExpiredToken": "unauthenticated",
    "InvalidClientTokenId": "unauthenticated",
}


@pytest.mark.parametrize(("code", "expected"), sorted(CASES.items(), key=lambda kv: str(kv[0])))
def test_outcome(code: str | None, expected: str) -> None:
    assert outcome(code) == expected


def test_sql_agrees_with_python() -> None:
    codes = [*CASES, *DENIED_CODES, *UNAUTHENTICATED_CODES]
    connection = duckdb.connect()
    rows = connection.execute(
        f"SELECT errorCode, {outcome_sql()} FROM (SELECT unnest(?::VARCHAR[]) AS errorCode)", [codes]
    ).fetchall()
    assert dict(rows) == {code: outcome(code) for code in codes}
