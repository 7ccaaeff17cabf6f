"""The policies ``trailsmith check`` holds against the trail, read from the files a repository commits.

What it reads (:func:`load_sources`), each SOURCE being a file or a directory searched recursively for
``*.json``, ``*.tf`` and ``*.tf.json`` (hidden folders such as ``.terraform/`` and ``.git/`` are not
entered, ``*.tfvars.json`` holds variables and is not read, symlinked folders are not followed):

- an IAM policy document, a JSON list of them, or what ``aws iam get-role-policy`` / ``get-user-policy``
  (``PolicyDocument``) and ``get-policy-version`` (``PolicyVersion.Document``) print;
- an ``aws iam get-account-authorization-details`` export, known by its keys: every user and role in it
  becomes a principal with all the policies that apply to it (inline, managed, its groups'), and its
  permissions boundary goes to :attr:`Sources.boundaries`;
- Terraform, HCL or JSON syntax, one module (folder) at a time: ``data "aws_iam_policy_document"``
  blocks, and ``aws_iam_policy`` / ``aws_iam_role_policy`` / ``aws_iam_user_policy`` /
  ``aws_iam_group_policy`` whose ``policy`` is ``jsonencode({...})``, a heredoc or string of JSON,
  ``file("x.json")`` (beside the ``.tf`` file; ``${path.module}`` is that folder), or
  ``data.aws_iam_policy_document.NAME.json``.

How principals are found: an export names them; Terraform names them through ``aws_iam_role_policy.role``,
``aws_iam_user_policy.user`` and the ``aws_iam_*policy_attachment`` resources, as a literal name or a
reference to an ``aws_iam_role`` / ``aws_iam_user`` block whose ``name`` is literal; such principals are
given as ``role/NAME`` or ``user/NAME`` (the caller matches names against the warehouse). A policy file
names none: ``--map`` assigns principal ARNs to files, globs or Terraform addresses, and overrides what
Terraform says.

What it refuses to guess: variables, locals, module outputs, ``${...}`` inside strings, ``for``
expressions, ``dynamic`` blocks, functions other than ``jsonencode`` and ``file``, merged documents. Each
is an :class:`Unresolved` item. A policy with such a value anywhere but in a ``Condition`` (or ``Sid``) is
withheld, never checked in part, because a half-known policy would give false findings; a ``Condition``
that cannot be resolved is kept as written (``${var.x}``), which leaves the statement conditional, and
reported. A document with ``principals`` blocks that no identity policy uses is a trust or resource
policy: reported and left out. Unreadable input named on the command line is a :class:`CheckSourceError`;
inside a folder it is an :class:`Unresolved` item and the rest is still read.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any, Literal, NamedTuple

from trailsmith.check import hcl, terraform
from trailsmith.check.hcl import Unresolved
from trailsmith.errors import SourceError
from trailsmith.iam.evaluate import resolve
from trailsmith.iam.export import (
    BadDocument,
    IamExportError,
    Policy,
    Statement,
    decode_document,
    entity_arn_parts,
    parse_authorization_details,
    parse_document,
)

Form = Literal["json", "authorization-details", terraform.Form]

_EXPORT_KEYS = ("UserDetailList", "RoleDetailList", "GroupDetailList", "Policies")


class CheckSourceError(SourceError):
    """A SOURCE or ``--map`` file named on the command line cannot be read, or is not what check reads.

    Exit code 2, as ``check`` gives every usage error (1 means findings).
    """

    exit_code = 2


@dataclass(frozen=True)
class Location:
    """1-based lines of a block or document in its file (0 when unknown)."""

    path: str
    line: int
    end_line: int


@dataclass(frozen=True)
class PolicySource:
    """One identity policy as committed, and who has it."""

    policy: Policy
    #: the JSON document as written (Terraform's values resolved), for the patch
    document: dict[str, Any]
    form: Form
    #: the Terraform address of the block at ``location`` (``aws_iam_role_policy.app``, or
    #: ``data.aws_iam_policy_document.app`` for a resource whose policy is that document: ``policy.label``
    #: then names the resource), or the file path (``path#2`` for the second document of a JSON list)
    address: str
    location: Location
    #: the line of each statement in ``location.path`` (0 when unknown)
    statement_lines: tuple[int, ...]
    #: principal ARNs, or ``role/NAME`` / ``user/NAME`` when Terraform gives only a name
    principals: tuple[str, ...]


@dataclass(frozen=True)
class Sources:
    policies: tuple[PolicySource, ...]
    unresolved: tuple[Unresolved, ...]
    #: principal ARN -> its permissions boundary, when an export gives it
    boundaries: Mapping[str, Policy] = field(default_factory=dict)


def principals(sources: Sources) -> dict[str, list[PolicySource]]:
    """The policies of each principal; policies that name none are in :func:`unassigned`, not here."""
    grouped: dict[str, list[PolicySource]] = {}
    for source in sources.policies:
        for principal in source.principals:
            grouped.setdefault(principal, []).append(source)
    return grouped


def unassigned(sources: Sources) -> tuple[PolicySource, ...]:
    """Policies that name no principal (a plain file without ``--map``, an unattached managed policy)."""
    return tuple(source for source in sources.policies if not source.principals)


# --- reading files -------------------------------------------------------------------------------------


def _files(paths: Sequence[str | os.PathLike[str]], gaps: list[Unresolved]) -> list[tuple[str, bool]]:
    """Every file to read, and whether it was named on the command line (then an error is fatal)."""
    out: dict[str, tuple[str, bool]] = {}
    for given in (os.fspath(path) for path in paths):
        if os.path.isdir(given):
            for path in _walk(given, gaps):
                out.setdefault(os.path.realpath(path), (path, False))
        elif os.path.exists(given):
            out[os.path.realpath(given)] = (given, True)
        else:
            raise CheckSourceError(
                given,
                "no such file or directory",
                hint="Give policy JSON files, exports or Terraform folders",
            )
    return list(out.values())


def _walk(folder: str, gaps: list[Unresolved]) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        gaps.append(Unresolved(folder, 0, folder, "folder", f"cannot be listed: {exc.strerror or exc}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(entry.path, gaps)
        elif entry.is_symlink() and entry.is_dir():
            gaps.append(Unresolved(entry.path, 0, entry.path, "folder", "is a symlink, not followed"))
        elif entry.name.endswith((".json", ".tf")) and not entry.name.endswith(".tfvars.json"):
            yield entry.path


# --- loading -------------------------------------------------------------------------------------------


class _Named(NamedTuple):
    source: PolicySource
    addresses: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass
class _Found:
    """What has been read so far: each policy with what ``--map`` may name it by (addresses, paths)."""

    policies: list[_Named] = field(default_factory=list)
    unresolved: list[Unresolved] = field(default_factory=list)
    boundaries: dict[str, Policy] = field(default_factory=dict)


def load_sources(
    paths: Sequence[str | os.PathLike[str]], *, mapping: Mapping[str, str | Sequence[str]] | None = None
) -> Sources:
    """Read every SOURCE (files and folders), then give the policies ``mapping``'s principals."""
    if not paths:
        raise CheckSourceError(
            "check", "no SOURCE given", hint="Give policy files, exports or Terraform folders"
        )
    found = _Found()
    modules: dict[str, list[tuple[str, bool]]] = {}
    documents = []
    for path, named in _files(paths, found.unresolved):
        if path.endswith((".tf", ".tf.json")):
            modules.setdefault(os.path.dirname(path), []).append((path, named))
        else:
            documents.append((path, named))
    for folder, files in modules.items():
        _read_module(folder, files, found)
    # a file Terraform reads with file() is that resource's policy, not one more on its own
    through_terraform = {
        os.path.realpath(s.location.path) for s, _, _ in found.policies if s.form == "terraform-file"
    }
    for path, named in documents:
        if os.path.realpath(path) in through_terraform:
            continue
        try:
            _read_json_source(path, found)
        except hcl.Unreadable as bad:
            _fail(found, path, named, bad)
    policies = _mapped(found.policies, _normalised_mapping(mapping or {}, "--map"))
    return Sources(tuple(policies), tuple(found.unresolved), dict(found.boundaries))


def _fail(found: _Found, path: str, named: bool, bad: hcl.Unreadable) -> None:
    if named:
        raise CheckSourceError(path, bad.problem, hint=bad.hint)
    found.unresolved.append(Unresolved(path, 0, path, "file", bad.problem))


def _read_module(folder: str, files: list[tuple[str, bool]], found: _Found) -> None:
    module = terraform.read_module(folder, [path for path, _ in files])
    named = {path for path, explicit in files if explicit}
    for path, bad in module.failures:
        _fail(found, path, path in named, bad)
    found.unresolved.extend(module.gaps)
    for item in module.policies:
        location = Location(*item.where)
        source = PolicySource(
            item.policy,
            item.document,
            item.form,
            item.address,
            location,
            item.statement_lines,
            item.principals,
        )
        found.policies.append(_Named(source, item.addresses, item.paths))


def _read_json_source(path: str, found: _Found) -> None:
    text = hcl.read_text(path, hcl.MAX_JSON_BYTES)
    data = hcl.load_json(text)
    pages = data if isinstance(data, list) else [data]
    if pages and all(isinstance(p, dict) and any(k in p for k in _EXPORT_KEYS) for p in pages):
        _read_export(path, data, found)
        return
    documents = _unwrap(data)
    groups = hcl.statement_lines(hcl.scan(text, templates=False))
    end = text.count("\n") + (not text.endswith("\n"))
    for index, raw in enumerate(documents):
        name = path if len(documents) == 1 else f"{path}#{index + 1}"
        where = "document" if len(documents) == 1 else f"[{index}]"
        try:
            document = decode_document(raw, where)
            policy = parse_document(document, name, where)
        except BadDocument as bad:
            raise hcl.Unreadable(
                f"{bad.where} {bad.problem}", hint="Give an IAM policy document or an IAM export"
            ) from None
        lines = _lines(groups[index] if index < len(groups) else (), len(policy.statements))
        source = PolicySource(policy, document, "json", name, Location(path, 1, end), lines, ())
        found.policies.append(_Named(source, (name,), (path,)))


def _unwrap(data: Any) -> list[Any]:
    """The documents of a policy file, in the forms ``trailsmith.iam.export.read_policy_file`` accepts."""
    if isinstance(data, dict) and isinstance(data.get("PolicyVersion"), dict):
        data = data["PolicyVersion"].get("Document")
    elif isinstance(data, dict) and "PolicyDocument" in data:
        data = data["PolicyDocument"]
    return data if isinstance(data, list) and data else [data]


def _lines(found: Sequence[int], count: int) -> tuple[int, ...]:
    """Statement lines when the scan found one per statement, else unknown (0) for each."""
    return tuple(found) if len(found) == count else (0,) * count


def _read_export(path: str, data: Any, found: _Found) -> None:
    try:
        details = parse_authorization_details(data, path)
    except IamExportError as exc:
        raise hcl.Unreadable(exc.message, exc.hint) from None
    found.unresolved.extend(Unresolved(path, 0, path, p.where, p.problem) for p in details.problems)
    # a managed or group policy is one source for all who have it; an inline policy is its principal's own
    holders: dict[tuple[Policy, str], list[str]] = {}
    for principal in details.principals:
        resolved = resolve(details, principal)
        own = set(principal.incomplete)
        found.unresolved.extend(
            Unresolved(path, 0, principal.arn, "policies", note) for note in resolved.notes if note not in own
        )
        for policy in resolved.policies:
            owner = principal.arn if policy.label.startswith("inline:") else ""
            holders.setdefault((policy, owner), []).append(principal.arn)
        if resolved.boundary is not None:
            found.boundaries[principal.arn] = resolved.boundary
    for (policy, owner), arns in holders.items():
        zeros = (0,) * len(policy.statements)
        source = PolicySource(
            policy,
            document_of(policy),
            "authorization-details",
            f"{policy.label} of {owner}" if owner else policy.label,
            Location(path, 0, 0),
            zeros,
            tuple(sorted(arns)),
        )
        found.policies.append(_Named(source, (), ()))


def document_of(policy: Policy) -> dict[str, Any]:
    """The JSON document of a parsed policy (an export's documents are read once, as :class:`Policy`).

    >>> document_of(Policy("p", (Statement("Allow", ("s3:GetObject",), False, ("*",), False),)))["Statement"]
    [{'Effect': 'Allow', 'Action': ['s3:GetObject'], 'Resource': ['*']}]
    """
    return {"Version": "2012-10-17", "Statement": [_statement_json(s) for s in policy.statements]}


def _statement_json(statement: Statement) -> dict[str, Any]:
    out: dict[str, Any] = {"Sid": statement.sid} if statement.sid else {}
    out["Effect"] = statement.effect
    out["NotAction" if statement.not_action else "Action"] = list(statement.actions)
    out["NotResource" if statement.not_resource else "Resource"] = list(statement.resources)
    if statement.condition:
        out["Condition"] = json.loads(statement.condition)
    return out


# --- --map ---------------------------------------------------------------------------------------------


def read_mapping(path: str) -> dict[str, tuple[str, ...]]:
    """A ``--map`` file: a JSON object, key a file, glob or Terraform address, value principal ARN(s)."""
    try:
        data = hcl.load_json(hcl.read_text(path))
    except hcl.Unreadable as bad:
        raise CheckSourceError(f"--map {path}", bad.problem, hint=bad.hint) from None
    return _normalised_mapping(data, f"--map {path}")


def _normalised_mapping(data: Any, origin: str) -> dict[str, tuple[str, ...]]:
    hint = 'Write {"policies/app.json": "arn:aws:iam::123456789012:role/app", "aws_iam_policy.x": [ARN, ...]}'
    if not isinstance(data, Mapping):
        raise CheckSourceError(origin, "is not a JSON object", hint=hint)
    out = {}
    for key, value in data.items():
        arns = [value] if isinstance(value, str) else value
        if not isinstance(arns, list | tuple) or not arns:
            raise CheckSourceError(origin, f"{key!r}: is not a principal ARN or a list of them", hint=hint)
        for arn in arns:
            if not isinstance(arn, str) or entity_arn_parts(arn) is None:
                raise CheckSourceError(origin, f"{key!r}: {arn!r} is not an IAM role or user ARN", hint=hint)
        out[str(key)] = tuple(arns)
    return out


def _mapped(found: Iterable[_Named], mapping: Mapping[str, tuple[str, ...]]) -> list[PolicySource]:
    """Each policy with the principals of every mapping key that names it (they replace Terraform's).

    An export's policies keep the export's principals; a key that names nothing is an error, since a typo
    would leave a policy unchecked without a word.
    """
    used: set[str] = set()
    out = []
    # keys by what they name exactly (an address, a file as given or absolute): one lookup per file; only
    # the keys that name nothing exactly are matched as patterns (globs, paths from the right), so a map of
    # thousands of files stays linear
    found = list(found)
    exact: dict[str, list[str]] = {}
    for key in mapping:
        exact.setdefault(key, []).append(key)
        exact.setdefault(os.path.abspath(key), []).append(key)
    names = [{*a, *p, *(os.path.abspath(path) for path in p)} for _, a, p in found]
    hit = {key for named in names for name in named for key in exact.get(name, ())}
    patterns = [key for key in mapping if key not in hit]
    for (source, _, paths), named in zip(found, names, strict=True):
        if source.form == "authorization-details":
            out.append(source)
            continue
        hits = [key for name in named for key in exact.get(name, ())]
        hits += [key for key in patterns if any(_names(key, path) for path in paths)]
        hits = list(dict.fromkeys(hits))
        used.update(hits)
        if hits:
            arns = sorted({arn for key in hits for arn in mapping[key]})
            source = replace(source, principals=tuple(arns))
        out.append(source)
    unused = [key for key in mapping if key not in used]
    if unused:
        raise CheckSourceError(
            "--map",
            f"{unused[0]!r} names no policy file, glob match or Terraform address that was read",
            hint="Keys are file paths (as given or absolute), globs over them, or addresses such as "
            "aws_iam_role_policy.app",
        )
    return out


def _names(key: str, path: str) -> bool:
    """Whether a ``--map`` key names a file: the same file (relative or absolute), or a glob matching it
    (``fnmatch`` over the path as read or absolute, or pathlib's match from the right: ``nested/*.json``)."""
    absolute = os.path.abspath(path)
    return (
        os.path.abspath(key) == absolute
        or fnmatch.fnmatchcase(path, key)
        or fnmatch.fnmatchcase(absolute, key)
        or PurePath(path).match(key)
    )
