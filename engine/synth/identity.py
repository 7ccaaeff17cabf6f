"""``userIdentity`` blocks, source addresses and user agents: who a record says made the call.

Role personas act through sessions that last ``session_hours``: each session has its own name, temporary
access key (``ASIA...``), creation time, user agent and address, and all its records share one identity
dict. The policy holder of a session is the role (``sessionIssuer.arn``, path included), never the
session ARN. AWS services acting alone get the identities CloudTrail gives them: ``type`` AWSService for
their API calls, and no ``type`` at all (only ``accountId`` and ``invokedBy``) for some service events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from trailsmith.synth.catalog import CONSOLE_SIGN_IN, Template
from trailsmith.synth.ids import access_key, hex_string, iso_seconds
from trailsmith.synth.personas import BROWSER, ROLE, ROOT, SERVICE, USER, Persona
from trailsmith.synth.world import Account, Pool

_SSO_USERS = ("alice@example.com", "bob.smith@example.com", "chen.wei@example.com", "dana@example.com")

#: service template key -> (userIdentity has a type?, invokedBy / source / agent)
_SERVICE_CALLERS = {
    "kms.RotateKey": (False, "AWS Internal"),
    "secretsmanager.RotationSucceeded": (False, "secretsmanager.amazonaws.com"),
    "sts.AssumeRole.by-lambda": (True, "lambda.amazonaws.com"),
    "sts.AssumeRole.by-ecs-tasks": (True, "ecs-tasks.amazonaws.com"),
    "sts.AssumeRole.by-ec2": (True, "ec2.amazonaws.com"),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """Everything a record says about its caller."""

    user_identity: dict[str, Any]
    source_ip: str
    user_agent: str
    #: the ARN whose policies authorise the call; "" when no principal of the account made it
    holder: str
    #: the ARN error messages name (the session ARN for assumed roles)
    caller: str
    #: calls made in the console carry ``sessionCredentialFromConsole``
    console: bool = False
    #: calls through a VPC endpoint name it, and come from a private address
    vpc_endpoint: str = ""


class Sessions:
    """The sessions of one (account, region, day) unit, created on first use in event order."""

    def __init__(self, rng: random.Random, account: Account, pool: Pool, day_start: int, day: str) -> None:
        self.rng = rng
        self.account = account
        self.pool = pool
        self.day_start = day_start
        self.day = day
        self._cache: dict[tuple[str, int], tuple[str, Identity, Identity | None]] = {}
        self._services: dict[str, Identity] = {}
        self._delegated: dict[tuple[str, int, str], Identity] = {}
        self._issued: list[tuple[Persona, Identity]] = []

    def session(self, persona: Persona, second: int) -> tuple[str, Identity, Identity | None]:
        """``(session name, identity, sign-in identity)`` of ``persona`` at ``second`` of the day."""
        slot = second // (persona.session_hours * 3600)
        key = (persona.key, slot)
        found = self._cache.get(key)
        if found is None:
            start = self.day_start + slot * persona.session_hours * 3600 - self.rng.randrange(60, 900)
            found = self._new(persona, start)
            self._cache[key] = found
        return found

    def issued(self) -> list[tuple[Persona, Identity]]:
        """The sessions with session tags created since the last call (whose ``AssumeRole`` is still to be
        written), oldest first."""
        found, self._issued = self._issued, []
        return found

    def delegated(self, persona: Persona, second: int, ident: Identity, service: str) -> Identity:
        """``ident`` as recorded when ``service`` calls on its behalf (one dict per session and service)."""
        key = (persona.key, second // (persona.session_hours * 3600), service)
        found = self._delegated.get(key)
        if found is None:
            found = self._delegated[key] = on_behalf(ident, service)
        return found

    def service(self, template: Template) -> Identity:
        """The identity of an AWS service acting on its own (no policy holder)."""
        found = self._services.get(template.key)
        if found is None:
            typed, invoker = _SERVICE_CALLERS[template.key]
            ui: dict[str, Any] = (
                {"type": "AWSService", "invokedBy": invoker}
                if typed
                else {"accountId": self.account.id, "invokedBy": invoker}
            )
            found = Identity(ui, invoker, invoker, "", invoker)
            self._services[template.key] = found
        return found

    # -- building ------------------------------------------------------------------------------------------

    def _new(self, persona: Persona, start: int) -> tuple[str, Identity, Identity | None]:
        rng, acct = self.rng, self.account.id
        agent = rng.choice(persona.user_agents)
        ip, vpce = self._address(persona)
        if persona.invoked_by:
            ip = agent = persona.invoked_by
        if persona.kind == ROLE:
            role = self.account.roles[persona.key]
            name = self._session_name(persona, start)
            ui: dict[str, Any] = {
                "type": "AssumedRole",
                "principalId": f"{role.role_id}:{name}",
                "arn": f"arn:aws:sts::{acct}:assumed-role/{role.name}/{name}",
                "accountId": acct,
                "accessKeyId": access_key(rng),
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role.role_id,
                        "arn": role.arn,
                        "accountId": acct,
                        "userName": role.name,
                    },
                    "webIdFederationData": {},
                    "attributes": {"creationDate": iso_seconds(start), "mfaAuthenticated": "false"},
                },
            }
            if persona.session == "instance":
                ui["sessionContext"]["ec2RoleDelivery"] = "2.0"
            if persona.invoked_by:
                ui["invokedBy"] = persona.invoked_by
            ident = Identity(ui, ip, agent, role.arn, ui["arn"], persona.console, vpce)
            if persona.session_tags:
                self._issued.append((persona, ident))
            return name, ident, None
        if persona.kind == USER:
            user = self.account.users[persona.key]
            base = {"type": "IAMUser", "principalId": user.user_id, "arn": user.arn, "accountId": acct}
            ui = {**base, "accessKeyId": user.access_key, "userName": user.name}
            sign_in = Identity({**base, "userName": user.name}, ip, BROWSER, user.arn, user.arn, True)
            return user.name, Identity(ui, ip, agent, user.arn, user.arn, False, vpce), sign_in
        if persona.kind == ROOT:
            root = self.account.root_arn
            base = {"type": "Root", "principalId": acct, "arn": root, "accountId": acct}
            ui = {
                **base,
                "accessKeyId": access_key(rng),
                "sessionContext": {
                    "sessionIssuer": {},
                    "webIdFederationData": {},
                    "attributes": {"creationDate": iso_seconds(start), "mfaAuthenticated": "true"},
                },
            }
            sign_in = Identity({**base, "accessKeyId": ""}, ip, BROWSER, root, root, True)
            return "root", Identity(ui, ip, agent, root, root, True), sign_in
        raise ValueError(f"persona {persona.key} of kind {persona.kind} has no sessions")

    def _session_name(self, persona: Persona, start: int) -> str:
        rng = self.rng
        scheme = persona.session
        if scheme == "ci":
            return f"gha-{rng.randrange(10**9, 10**10)}"
        if scheme == "etl":
            return f"etl-{self.day.replace('/', '')}-{hex_string(rng, 6)}"
        if scheme == "sso":
            return rng.choice(_SSO_USERS)
        if scheme == "function":
            names = [f.name for f in self.pool.functions if f.role == self.account.roles[persona.key]]
            return rng.choice(names)
        if scheme == "task":
            return rng.choice(self.pool.container_ids)
        if scheme == "instance":
            return rng.choice(self.pool.instances)
        if scheme == "cfn":
            return "AWSCloudFormation"
        return f"botocore-session-{start}"

    def _address(self, persona: Persona) -> tuple[str, str]:
        rng = self.rng
        if persona.network == "ci":
            return f"192.0.2.{rng.randrange(10, 250)}", ""
        if persona.network == "office":
            if rng.random() < 0.2:
                return f"2001:db8:85a3::{rng.randrange(1, 0xFFFF):x}:{rng.randrange(1, 0xFFFF):x}", ""
            return f"203.0.113.{rng.randrange(10, 250)}", ""
        if persona.session == "instance":
            return f"10.0.{rng.randrange(1, 4)}.{rng.randrange(4, 250)}", self.pool.vpc_endpoint
        return f"198.51.100.{rng.randrange(1, 250)}", ""


def on_behalf(ident: Identity, service: str) -> Identity:
    """The same caller, as recorded when ``service`` makes a call for it: ``invokedBy`` and the service's
    host name as source address and user agent, no console flag, no VPC endpoint."""
    return Identity(
        {**ident.user_identity, "invokedBy": service}, service, service, ident.holder, ident.caller
    )


def identity_for(
    sessions: Sessions, persona: Persona, template: Template, second: int
) -> tuple[str, Identity]:
    """``(session name, identity)`` for one event of ``persona`` calling ``template``."""
    if persona.kind == SERVICE:
        return "service", sessions.service(template)
    name, ident, sign_in = sessions.session(persona, second)
    if template.event_type == CONSOLE_SIGN_IN and sign_in is not None:
        return name, sign_in
    if template.invoked_by and "invokedBy" not in ident.user_identity:
        return name, sessions.delegated(persona, second, ident, template.invoked_by)
    return name, ident
