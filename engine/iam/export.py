"""What principals are granted, as IAM has it: ``aws iam get-account-authorization-details`` and policy files.

The export lists users (with their group memberships), groups, roles, every managed policy with all its
stored versions, and each entity's inline policies, attached managed policies and permissions boundary.
This module turns it into frozen values, and nothing more: which policies apply to a principal and which
actions they grant is :mod:`trailsmith.iam.evaluate`'s job.

Real exports differ in small ways, and each is handled on purpose:

- policy documents are JSON objects (the AWS CLI and boto3 decode them) or strings: URL-encoded JSON as
  the IAM API returns it ("URL-encoded compliant with RFC 3986", per the API reference), or plain JSON
  text written by other tools;
- ``Statement``, ``Action``, ``Resource`` and their ``Not`` forms are a single value or a list;
- only the managed policy version marked ``IsDefaultVersion`` is in effect; older versions are ignored;
- a file may hold one response or a JSON list of paginated responses.

A security tool must not turn unreadable input into "no permissions": an entry that cannot be read is
reported as a :class:`Problem` naming it (``RoleDetailList[3] (role 'x'): RolePolicyList[0].PolicyDocument
is not valid JSON ...``) and left out, everything else is kept, and the principals it concerns carry a note
that their result is incomplete. ``strict=True`` raises :class:`IamExportError` instead.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, unquote_plus

from trailsmith.errors import TrailsmithError

Effect = Literal["Allow", "Deny"]
Kind = Literal["user", "role"]

#: ``arn:<partition>:iam::<account>:(role|user)/<path/>name`` and managed policies ``...:policy/<path/>name``.
_ENTITY_ARN = re.compile(
    r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}|aws):(?P<kind>role|user|policy)/(?P<rest>.+)$"
)
_LISTS = {"user": "UserDetailList", "role": "RoleDetailList"}
_INLINE = {"user": "UserPolicyList", "role": "RolePolicyList", "group": "GroupPolicyList"}
_NAMES = {
    "UserDetailList": ("UserName", "user"),
    "RoleDetailList": ("RoleName", "role"),
    "GroupDetailList": ("GroupName", "group"),
    "Policies": ("PolicyName", "policy"),
}


class IamExportError(TrailsmithError):
    """An IAM export or policy file cannot be read at all, or (strict mode) had entries that were skipped."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message, hint=hint)
        self.problems = tuple(problems)

    @classmethod
    def strict(cls, problems: Sequence[Problem]) -> IamExportError:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(
            f"{problems[0]}{more}",
            hint="Fix the export, or run without --strict to skip what cannot be read and evaluate the rest",
            problems=problems,
        )


@dataclass(frozen=True)
class Problem:
    """One entry of an input that could not be read, and why; it was left out."""

    source: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: {self.where}: {self.problem}"


@dataclass(frozen=True)
class Statement:
    """One policy statement, normalised: single values became tuples, ``Not`` forms became flags.

    ``condition`` is the statement's ``Condition`` block as canonical JSON text ("" without one): it is
    reported next to what the statement grants, never evaluated, because its keys (source IP, MFA, tags,
    time) describe the request, which an export does not have.
    """

    effect: Effect
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    condition: str = ""
    sid: str = ""

    @property
    def conditional(self) -> bool:
        return bool(self.condition)


@dataclass(frozen=True)
class Policy:
    """A policy document and the label results name it by (``granted_by``).

    Labels: a managed policy's ARN; ``inline:<PolicyName>``; ``file:<name>`` for ``--policy-file``; with
    ``group:<GroupName>/`` in front when a user has it through a group.
    """

    label: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True)
class Group:
    name: str
    arn: str
    inline: tuple[Policy, ...] = ()
    managed: tuple[str, ...] = ()
    #: problems with this group's own policies: its members' results are incomplete
    incomplete: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    """A user or role: what is attached to it, by reference where the export refers."""

    arn: str
    kind: Kind
    name: str
    inline: tuple[Policy, ...] = ()
    managed: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    boundary: str | None = None
    #: problems with this principal's own policies: its result is incomplete
    incomplete: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthorizationDetails:
    """Everything read from one or more exports and policy files."""

    principals: tuple[Principal, ...] = ()
    groups: Mapping[str, Group] = field(default_factory=dict)
    #: managed policies by ARN, each with its default version's document
    managed: Mapping[str, Policy] = field(default_factory=dict)
    #: entries present in the export but unreadable, by managed policy ARN or ``group:<name>``: why
    unreadable: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def principal(self, arn: str) -> Principal | None:
        return next((p for p in self.principals if p.arn == arn), None)

    def merged(self, other: AuthorizationDetails) -> AuthorizationDetails:
        """Both exports together (pages of one account, or several accounts); ``other`` wins on conflicts."""
        mine = {p.arn: p for p in self.principals}
        mine.update({p.arn: p for p in other.principals})
        return AuthorizationDetails(
            principals=tuple(sorted(mine.values(), key=lambda p: p.arn)),
            groups={**self.groups, **other.groups},
            managed={**self.managed, **other.managed},
            unreadable={
                k: v for k, v in {**self.unreadable, **other.unreadable}.items() if k not in other.managed
            },
            problems=self.problems + other.problems,
        )


class BadDocument(Exception):
    """An entry of an export or a policy document (or part of one) that cannot be read; ``where`` is relative
    to the entry. :func:`parse_document` raises it for a document IAM would refuse."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(problem)
        self.where = where
        self.problem = problem


# --- policy documents ---------------------------------------------------------------------------------


def decode_document(value: Any, where: str) -> dict[str, Any]:
    """A policy document from a JSON object, JSON text, or URL-encoded JSON text (as the IAM API sends it).

    >>> decode_document("%7B%22Statement%22%3A%5B%5D%7D", "doc")
    {'Statement': []}
    """
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise BadDocument(where, f"is {_kind(value)}, not a policy document")
    text = value.strip()
    encoded = text[:3].upper() == "%7B" or "%22" in text[:40]
    errors: list[str] = []
    # plain JSON first: decoding it would turn a literal '%41' inside a value into 'A'
    for candidate in (text, unquote(text), unquote_plus(text)):
        try:
            parsed = json.loads(candidate)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if isinstance(parsed, str):  # JSON text of JSON text: some tools encode twice
            return decode_document(parsed, where)
        if isinstance(parsed, dict):
            return parsed
        raise BadDocument(where, f"is {_kind(parsed)}, not a policy document")
    detail = errors[1] if encoded else errors[0]
    raise BadDocument(where, f"is not valid JSON, neither as text nor URL-decoded: {detail}")


def parse_document(document: Any, label: str, where: str = "PolicyDocument") -> Policy:
    """A :class:`Policy` from a document in any form :func:`decode_document` takes; raises if malformed."""
    body = decode_document(document, where)
    if "Statement" not in body:
        raise BadDocument(where, "has no Statement")
    raw = body["Statement"]
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise BadDocument(f"{where}.Statement", f"is {_kind(raw)}, not a statement or a list of statements")
    return Policy(label, tuple(_statement(item, f"{where}.Statement[{i}]") for i, item in enumerate(items)))


def _statement(item: Any, where: str) -> Statement:
    if not isinstance(item, dict):
        raise BadDocument(where, f"is {_kind(item)}, not a statement")
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise BadDocument(f"{where}.Effect", f"is {effect!r}; IAM accepts only 'Allow' or 'Deny'")
    actions, not_action = _either(item, "Action", where)
    for action in actions:
        if action.strip() != "*" and ":" not in action:
            key = "NotAction" if not_action else "Action"
            raise BadDocument(f"{where}.{key}", f"{action!r} is not 'service:action' or '*'")
    resources, not_resource = _either(item, "Resource", where)
    condition = item.get("Condition")
    if condition is not None and not isinstance(condition, dict):
        raise BadDocument(f"{where}.Condition", f"is {_kind(condition)}, not an object")
    sid = item.get("Sid")
    text = json.dumps(condition, sort_keys=True, separators=(",", ":")) if condition else ""
    sid = sid if isinstance(sid, str) else ""
    return Statement(effect, actions, not_action, resources, not_resource, text, sid)


def _either(item: Mapping[str, Any], name: str, where: str) -> tuple[tuple[str, ...], bool]:
    """``name`` or ``Not<name>``: exactly one must be there (IAM's grammar), a string or a list of strings."""
    plain, negated = item.get(name), item.get(f"Not{name}")
    if plain is not None and negated is not None:
        raise BadDocument(where, f"has both {name} and Not{name}")
    if plain is None and negated is None:
        raise BadDocument(where, f"has neither {name} nor Not{name}")
    key, value = (name, plain) if plain is not None else (f"Not{name}", negated)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise BadDocument(f"{where}.{key}", "is not a non-empty string or list of non-empty strings")
    return tuple(values), negated is not None


def _kind(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


# --- the export -----------------------------------------------------------------------------------------


def read_authorization_details(path: str | os.PathLike[str], *, strict: bool = False) -> AuthorizationDetails:
    """Read a ``get-account-authorization-details`` file (one response, or a JSON list of pages).

    Unreadable entries are left out and listed in ``problems``; with ``strict`` the first one raises.
    """
    source = os.fspath(path)
    data = _load_json(source)
    return parse_authorization_details(data, source, strict=strict)


def _load_json(source: str) -> Any:
    try:
        text = Path(source).read_bytes()
    except OSError as exc:
        raise IamExportError(f"{source}: cannot read it: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise IamExportError(
            f"{source}: not valid JSON: {exc}",
            hint="Give the output of 'aws iam get-account-authorization-details' (JSON) or a policy document",
        ) from None


def parse_authorization_details(
    data: Any, source: str = "<export>", *, strict: bool = False
) -> AuthorizationDetails:
    """:func:`read_authorization_details` for data already parsed from JSON."""
    pages = data if isinstance(data, list) else [data]
    if not pages or not all(isinstance(page, dict) for page in pages):
        raise IamExportError(
            f"{source}: not an IAM authorization details export (expected a JSON object with "
            "UserDetailList, GroupDetailList, RoleDetailList, Policies)"
        )
    if not any(key in page for page in pages for key in (*_LISTS.values(), "GroupDetailList", "Policies")):
        raise IamExportError(
            f"{source}: none of UserDetailList, GroupDetailList, RoleDetailList, Policies is there",
            hint="Give the output of 'aws iam get-account-authorization-details'",
        )
    reader = _Reader(source)
    for number, page in enumerate(pages):
        reader.page(page, f"[{number}]." if isinstance(data, list) else "")
    details = reader.details()
    if strict and details.problems:
        raise IamExportError.strict(details.problems)
    return details


#: readable inline policies, and the problems of the unreadable ones
_Inline = tuple[tuple[Policy, ...], tuple[str, ...]]


class _Reader:
    """Collects entries and problems across the pages of one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.principals: list[Principal] = []
        self.groups: dict[str, Group] = {}
        self.managed: dict[str, Policy] = {}
        self.unreadable: dict[str, str] = {}
        self.problems: list[Problem] = []

    def details(self) -> AuthorizationDetails:
        unreadable = {k: v for k, v in self.unreadable.items() if k not in self.managed}
        principals = tuple(sorted(self.principals, key=lambda p: p.arn))
        return AuthorizationDetails(principals, self.groups, self.managed, unreadable, tuple(self.problems))

    def problem(self, where: str, problem: str) -> str:
        self.problems.append(Problem(self.source, where, problem))
        return f"{where}: {problem}"

    def page(self, page: Mapping[str, Any], prefix: str) -> None:
        if page.get("IsTruncated") is True:
            self.problem(
                f"{prefix}IsTruncated",
                "is true: this is one page of a longer answer, and the "
                "entries on the other pages are missing (the AWS CLI fetches every page unless "
                "--max-items or --no-paginate was given)",
            )
        readers: tuple[tuple[str, Callable[[Any, str], None]], ...] = (
            ("Policies", self._policy),
            ("GroupDetailList", self._group),
            ("UserDetailList", lambda entry, where: self._entity(entry, where, "user")),
            ("RoleDetailList", lambda entry, where: self._entity(entry, where, "role")),
        )
        for key, read in readers:
            entries = page.get(key)
            if entries is None:
                continue
            if not isinstance(entries, list):
                self.problem(f"{prefix}{key}", f"is {_kind(entries)}, not a list: all of it is skipped")
                continue
            for index, entry in enumerate(entries):
                where = f"{prefix}{key}[{index}]"
                try:
                    read(entry, where)
                except BadDocument as bad:
                    said = self.problem(f"{where}{_named(entry, key)}", f"{bad.where} {bad.problem}".strip())
                    name = entry.get("GroupName") if isinstance(entry, dict) else None
                    if key == "GroupDetailList" and isinstance(name, str):
                        # its members' notes must say the group was unreadable, not that it is unknown
                        self.unreadable[f"group:{name}"] = said

    def _policy(self, entry: Any, where: str) -> None:
        arn = _text(entry, "Arn")
        named = f"{where}{_named(entry, 'Policies')}"
        try:
            index, document = _default_version(entry)
            self.managed[arn] = parse_document(document, arn, f"PolicyVersionList[{index}].Document")
        except BadDocument as bad:
            self.unreadable[arn] = self.problem(named, f"{bad.where} {bad.problem}")

    def _group(self, entry: Any, where: str) -> None:
        name, arn = _text(entry, "GroupName"), _text(entry, "Arn")
        inline, incomplete = self._inline(entry, "group", f"{where}{_named(entry, 'GroupDetailList')}")
        self.groups[name] = Group(name, arn, inline, _attached(entry), incomplete)

    def _entity(self, entry: Any, where: str, kind: Kind) -> None:
        arn = _text(entry, "Arn")
        name = _text(entry, "UserName" if kind == "user" else "RoleName")
        match = _ENTITY_ARN.match(arn)
        if not match or match["kind"] != kind:
            raise BadDocument("Arn", f"{arn!r} is not an IAM {kind} ARN")
        groups = entry.get("GroupList", []) if kind == "user" else []
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise BadDocument("GroupList", "is not a list of group names")
        inline, incomplete = self._inline(entry, kind, f"{where}{_named(entry, _LISTS[kind])}")
        self.principals.append(
            Principal(arn, kind, name, inline, _attached(entry), tuple(groups), _boundary(entry), incomplete)
        )

    def _inline(self, entry: Mapping[str, Any], kind: str, named: str) -> _Inline:
        """Readable inline policies, and a note for each unreadable one (reported, and the rest kept)."""
        key = _INLINE[kind]
        listed = entry.get(key) or []
        if not isinstance(listed, list):
            return (), (self.problem(named, f"{key} is {_kind(listed)}, not a list"),)
        policies: list[Policy] = []
        incomplete: list[str] = []
        for index, item in enumerate(listed):
            where = f"{key}[{index}]"
            try:
                if not isinstance(item, dict):
                    raise BadDocument(where, f"is {_kind(item)}, not an inline policy")
                name = item.get("PolicyName")
                if not isinstance(name, str) or not name:
                    raise BadDocument(f"{where}.PolicyName", "is missing")
                document = item.get("PolicyDocument")
                policies.append(parse_document(document, f"inline:{name}", f"{where}.PolicyDocument"))
            except BadDocument as bad:
                incomplete.append(self.problem(named, f"{bad.where} {bad.problem}"))
        return tuple(policies), tuple(incomplete)


def _named(entry: Any, key: str) -> str:
    """`` (role 'x')`` after an entry's position, when it has a name."""
    field_name, kind = _NAMES[key]
    name = entry.get(field_name) if isinstance(entry, dict) else None
    return f" ({kind} {name!r})" if isinstance(name, str) and name else ""


def _text(entry: Any, key: str) -> str:
    if not isinstance(entry, dict):
        raise BadDocument("", f"is {_kind(entry)}, not an object")
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        problem = "is missing" if value is None else f"is {_kind(value)}, not a non-empty string"
        raise BadDocument(key, problem)
    return value


def _attached(entry: Mapping[str, Any]) -> tuple[str, ...]:
    listed = entry.get("AttachedManagedPolicies") or []
    if not isinstance(listed, list):
        raise BadDocument("AttachedManagedPolicies", f"is {_kind(listed)}, not a list")
    arns = []
    for index, item in enumerate(listed):
        arn = item.get("PolicyArn") if isinstance(item, dict) else None
        if not isinstance(arn, str) or not arn:
            raise BadDocument(f"AttachedManagedPolicies[{index}].PolicyArn", "is missing")
        arns.append(arn)
    return tuple(arns)


def _boundary(entry: Mapping[str, Any]) -> str | None:
    boundary = entry.get("PermissionsBoundary")
    if not boundary:
        return None
    arn = boundary.get("PermissionsBoundaryArn") if isinstance(boundary, dict) else None
    if not isinstance(arn, str) or not arn:
        raise BadDocument("PermissionsBoundary.PermissionsBoundaryArn", "is missing")
    return arn


def _default_version(entry: Mapping[str, Any]) -> tuple[int, Any]:
    """The version in effect: the one marked ``IsDefaultVersion``, else the one named ``DefaultVersionId``."""
    versions = entry.get("PolicyVersionList")
    if not isinstance(versions, list) or not versions:
        raise BadDocument("PolicyVersionList", "is missing or empty")
    marked = [v for v in versions if isinstance(v, dict) and v.get("IsDefaultVersion") is True]
    wanted = entry.get("DefaultVersionId")
    if len(marked) != 1:
        marked = [v for v in versions if isinstance(v, dict) and wanted and v.get("VersionId") == wanted]
    if len(marked) != 1:
        problem = f"has no single version marked IsDefaultVersion (DefaultVersionId {wanted!r})"
        raise BadDocument("PolicyVersionList", problem)
    index = next(i for i, v in enumerate(versions) if v is marked[0])
    if "Document" not in marked[0]:
        raise BadDocument(f"PolicyVersionList[{index}].Document", "is missing")
    return index, marked[0]["Document"]


# --- plain policy files ----------------------------------------------------------------------------------


def read_policy_file(path: str | os.PathLike[str]) -> tuple[Policy, ...]:
    """The documents of a policy file, labelled ``file:<name>``.

    Accepted: a policy document; a JSON list of documents (what ``trailsmith policy`` writes when it had to
    split); ``aws iam get-role-policy`` / ``get-user-policy`` output (``PolicyDocument``); ``aws iam
    get-policy-version`` output (``PolicyVersion.Document``).
    """
    source = os.fspath(path)
    data = _load_json(source)
    if isinstance(data, dict) and isinstance(data.get("PolicyVersion"), dict):
        data = data["PolicyVersion"].get("Document")
    elif isinstance(data, dict) and "PolicyDocument" in data:
        data = data["PolicyDocument"]
    documents = data if isinstance(data, list) else [data]
    name = Path(source).name
    out = []
    for index, document in enumerate(documents):
        label = f"file:{name}" if len(documents) == 1 else f"file:{name}#{index + 1}"
        try:
            out.append(parse_document(document, label, "document" if len(documents) == 1 else f"[{index}]"))
        except BadDocument as bad:
            raise IamExportError(f"{source}: {bad.where} {bad.problem}") from None
    return tuple(out)


def with_policy_files(
    details: AuthorizationDetails, files: Iterable[tuple[str, str | os.PathLike[str]]]
) -> AuthorizationDetails:
    """``details`` plus policy files: ARN of a role or user -> more policies of that principal (created if the
    export lacks it); ARN of a managed policy -> that policy's document (filling a gap in the export, such as
    an AWS managed policy it does not list)."""
    principals = {p.arn: p for p in details.principals}
    managed = dict(details.managed)
    for arn, path in files:
        match = _ENTITY_ARN.match(arn)
        if not match:
            raise IamExportError(
                f"--policy-file: {arn!r} is not the ARN of an IAM role, user or managed policy",
                hint="Use arn:aws:iam::123456789012:role/NAME, ...:user/NAME or ...:policy/NAME",
            )
        policies = read_policy_file(path)
        if match["kind"] == "policy":
            managed[arn] = Policy(arn, tuple(s for p in policies for s in p.statements))
            continue
        kind: Kind = "role" if match["kind"] == "role" else "user"
        current = principals.get(arn) or Principal(arn, kind, match["rest"].rsplit("/", 1)[-1])
        principals[arn] = replace(current, inline=current.inline + policies)
    return replace(
        details,
        principals=tuple(sorted(principals.values(), key=lambda p: p.arn)),
        managed=managed,
        unreadable={k: v for k, v in details.unreadable.items() if k not in managed},
    )


def load(
    exports: Sequence[str | os.PathLike[str]] = (),
    policy_files: Sequence[tuple[str, str | os.PathLike[str]]] = (),
    *,
    strict: bool = False,
) -> AuthorizationDetails:
    """Every export (merged, later ones winning) plus every ``(ARN, file)`` policy file."""
    if not exports and not policy_files:
        raise IamExportError(
            "no IAM input",
            hint="Give --authorization-details FILE (aws iam "
            "get-account-authorization-details > FILE) or --policy-file ARN=FILE",
        )
    details = AuthorizationDetails()
    for path in exports:
        details = details.merged(read_authorization_details(path, strict=strict))
    return with_policy_files(details, policy_files)


def entity_arn_parts(arn: str) -> tuple[str, str, str, str] | None:
    """(partition, account, kind, name) of a role or user ARN, name without its path; None for anything else.

    >>> entity_arn_parts("arn:aws:iam::123456789012:role/service-role/App")
    ('aws', '123456789012', 'role', 'App')
    """
    match = _ENTITY_ARN.match(arn)
    if not match or match["kind"] == "policy":
        return None
    return match["partition"], match["account"], match["kind"], match["rest"].rsplit("/", 1)[-1]
