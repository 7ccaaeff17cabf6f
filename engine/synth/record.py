"""One template call + one caller + one outcome -> one CloudTrail record (a dict in CloudTrail's key order).

Outcomes are what the ground truth depends on: a *denied* call carries the service's own access-denied
code (``AccessDenied``, ``AccessDeniedException``, ``Client.UnauthorizedOperation``) and a message naming
the action and resource; a *throttled* or *not found* call failed after authorisation, so it still counts
as a permission the caller used.
"""

from __future__ import annotations

import random
from typing import Any

from trailsmith.synth.catalog import API_CALL, Call, Template
from trailsmith.synth.identity import Identity
from trailsmith.synth.ids import b64, upper_hex, uuid4

OK, DENIED, THROTTLED, NOT_FOUND = "ok", "denied", "throttled", "not-found"

# Services speaking the JSON protocol name their errors ``...Exception``; query/XML ones do not.
_JSON_PROTOCOL = {
    "dynamodb.amazonaws.com",
    "kms.amazonaws.com",
    "lambda.amazonaws.com",
    "secretsmanager.amazonaws.com",
    "ssm.amazonaws.com",
    "logs.amazonaws.com",
    "ecs.amazonaws.com",
}
_EC2 = "ec2.amazonaws.com"
_S3 = "s3.amazonaws.com"

_EVENT_VERSION = {
    "s3.amazonaws.com": "1.10",
    "dynamodb.amazonaws.com": "1.09",
    "lambda.amazonaws.com": "1.08",
    "ec2.amazonaws.com": "1.10",
    "iam.amazonaws.com": "1.08",
    "sts.amazonaws.com": "1.08",
    "kms.amazonaws.com": "1.11",
    "monitoring.amazonaws.com": "1.09",
    "logs.amazonaws.com": "1.09",
    "ssm.amazonaws.com": "1.09",
    "secretsmanager.amazonaws.com": "1.09",
    "sqs.amazonaws.com": "1.09",
    "sns.amazonaws.com": "1.09",
    "cloudformation.amazonaws.com": "1.09",
    "ecs.amazonaws.com": "1.11",
    "signin.amazonaws.com": "1.09",
}
_TLS = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
_TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")


def denied_error(rng: random.Random, source: str, caller: str, action: str, resource: str) -> tuple[str, str]:
    """The ``(errorCode, errorMessage)`` a service returns when no policy allows ``action``."""
    message = (
        f"User: {caller} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )
    if source == _EC2:
        encoded = b64(rng, 320)
        return "Client.UnauthorizedOperation", (
            f"You are not authorized to perform this operation. {message}. "
            f"Encoded authorization failure message: {encoded}"
        )
    if source in _JSON_PROTOCOL:
        return "AccessDeniedException", message
    return "AccessDenied", message


def throttled_error(source: str) -> tuple[str, str]:
    if source == _EC2:
        return "Client.RequestLimitExceeded", "Request limit exceeded."
    if source == _S3:
        return "SlowDown", "Please reduce your request rate."
    if source in _JSON_PROTOCOL:
        return "ThrottlingException", "Rate exceeded"
    return "Throttling", "Rate exceeded"


def assemble(
    rng: random.Random,
    template: Template,
    call: Call,
    ident: Identity,
    event_time: str,
    region: str,
    account: str,
    error: tuple[str, str] | None,
) -> dict[str, Any]:
    """The record, keys in the order CloudTrail writes them."""
    source = template.source
    record: dict[str, Any] = {
        "eventVersion": _EVENT_VERSION.get(source, "1.08"),
        "userIdentity": ident.user_identity,
        "eventTime": event_time,
        "eventSource": source,
        "eventName": template.name,
        "awsRegion": region,
        "sourceIPAddress": ident.source_ip,
        "userAgent": ident.user_agent,
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    record["requestParameters"] = call.request
    record["responseElements"] = None if error is not None else call.response
    if call.additional is not None:
        record["additionalEventData"] = call.additional
    if template.event_type == API_CALL:
        record["requestID"] = upper_hex(rng, 16) if source == _S3 else uuid4(rng)
    record["eventID"] = uuid4(rng)
    record["readOnly"] = template.read_only
    if call.resources:
        record["resources"] = call.resources
    record["eventType"] = template.event_type
    record["managementEvent"] = not template.data
    record["recipientAccountId"] = account
    if call.service_details is not None:
        record["serviceEventDetails"] = call.service_details
    if ident.vpc_endpoint:
        record["vpcEndpointId"] = ident.vpc_endpoint
        record["vpcEndpointAccountId"] = account
    record["eventCategory"] = template.category
    if template.event_type == API_CALL and ident.holder and "invokedBy" not in ident.user_identity:
        version, suite = _TLS if rng.random() < 0.85 else _TLS12
        host = call.host or _default_host(source, region)
        record["tlsDetails"] = {"tlsVersion": version, "cipherSuite": suite, "clientProvidedHostHeader": host}
    if ident.console and template.event_type == API_CALL:
        record["sessionCredentialFromConsole"] = "true"
    return record


def _default_host(source: str, region: str) -> str:
    service = source.split(".", 1)[0]
    if service == "iam":
        return "iam.amazonaws.com"
    return f"{service}.{region}.amazonaws.com"
