"""Was a call authorised? Read from its ``errorCode``, the only evidence CloudTrail records.

A call that failed for any other reason (throttling, a missing object, a validation error) passed IAM's
check first, so it counts as evidence that the permission was *used*. A denied call is evidence of the
opposite, and a call that failed authentication never reached the authorisation check at all.

>>> (outcome(None), outcome("ThrottlingException"),
...  outcome("Client.UnauthorizedOperation"), outcome("ExpiredToken"))
('allowed', 'allowed', 'denied', 'unauthenticated')
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal["allowed", "denied", "unauthenticated"]

#: Authorisation failures, as AWS services spell them (any code containing "AccessDenied" or
#: "UnauthorizedOperation" is one too).
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "Client.AccessDenied",
        "Client.UnauthorizedOperation",
        "UnauthorizedOperation",
        "AuthorizationError",
        "AuthorizationErrorException",
        "UnauthorizedAccess",
        "NotAuthorized",
    }
)
_DENIED_PARTS = ("AccessDenied", "UnauthorizedOperation")

#: Authentication failures: the request never reached the authorisation check.
UNAUTHENTICATED_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
        "Client.AuthFailure",
        "InvalidToken",
    }
)


def outcome(error_code: str | None) -> Outcome:
    """``allowed``, ``denied`` or ``unauthenticated`` for a call with this ``errorCode``."""
    if not error_code:
        return "allowed"
    if error_code in DENIED_CODES or any(part in error_code for part in _DENIED_PARTS):
        return "denied"
    if error_code in UNAUTHENTICATED_CODES:
        return "unauthenticated"
    return "allowed"


def _sql_list(codes: frozenset[str]) -> str:
    return ", ".join("'" + code + "'" for code in sorted(codes))


def outcome_sql(column: str = "errorCode") -> str:
    """The same classification as a SQL expression (DuckDB and Spark SQL), for views and aggregations."""
    denied_like = " OR ".join(f"{column} LIKE '%{part}%'" for part in _DENIED_PARTS)
    return (
        f"CASE WHEN {column} IS NULL OR {column} = '' THEN 'allowed' "
        f"WHEN {column} IN ({_sql_list(DENIED_CODES)}) OR {denied_like} THEN 'denied' "
        f"WHEN {column} IN ({_sql_list(UNAUTHENTICATED_CODES)}) THEN 'unauthenticated' "
        "ELSE 'allowed' END"
    )
