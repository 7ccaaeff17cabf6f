"""The identity policies of one Terraform module (a folder of ``.tf`` / ``.tf.json`` files) and who has them.

References are resolved inside the module only, as Terraform does: ``data.aws_iam_policy_document.app.json``
in a ``policy`` is that block's document; ``aws_iam_role.app.name`` (``.id``, ``.arn``) in a ``role`` is
that block's literal ``name``; ``aws_iam_policy.app.arn`` in an attachment is that policy. What only
Terraform can compute is an :class:`~trailsmith.check.hcl.Unresolved` item; :mod:`trailsmith.check.sources`
says what is withheld and why.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from trailsmith.check import hcl
from trailsmith.check.hcl import Expr, Unresolved, Value
from trailsmith.iam.export import BadDocument, Policy, entity_arn_parts, parse_document

#: How a policy is written in Terraform (:data:`trailsmith.check.sources.Form` adds the other sources).
Form = Literal["terraform-document", "terraform-jsonencode", "terraform-heredoc", "terraform-file", "tf-json"]

#: Resources whose ``policy`` is an identity policy, and the attribute naming its holder.
IDENTITY = {
    "aws_iam_policy": None,
    "aws_iam_role_policy": "role",
    "aws_iam_user_policy": "user",
    "aws_iam_group_policy": "group",
}
#: Attachment resources: (attribute, kind of principal, whether it is a list).
ATTACHMENTS = {
    "aws_iam_role_policy_attachment": (("role", "role", False),),
    "aws_iam_user_policy_attachment": (("user", "user", False),),
    "aws_iam_group_policy_attachment": (("group", "group", False),),
    "aws_iam_policy_attachment": (
        ("roles", "role", True),
        ("users", "user", True),
        ("groups", "group", True),
    ),
}
_DOCUMENT = "aws_iam_policy_document"
_DATA_REF = re.compile(r"data\.aws_iam_policy_document\.([\w-]+)\.json")
_ENTITY_REF = re.compile(r"(aws_iam_(?:role|user|policy))\.([\w-]+)\.(name|id|arn)")


@dataclass(frozen=True)
class Block:
    kind: str  # "resource" or "data"
    type: str
    name: str
    body: dict[str, Value]
    path: str
    text: str = field(compare=False, repr=False)
    tokens: list[hcl.Token] = field(compare=False, repr=False)
    #: token indexes of the block's braces, when found
    span: tuple[int, int] | None
    json: bool

    @property
    def address(self) -> str:
        return f"data.{self.type}.{self.name}" if self.kind == "data" else f"{self.type}.{self.name}"

    @property
    def lines(self) -> tuple[int, int]:
        if self.span is None:
            return 0, 0
        return self.tokens[self.span[0]].line, self.tokens[self.span[1]].line


@dataclass(frozen=True)
class Found:
    """One policy of the module, ready for checking."""

    policy: Policy
    document: dict[str, Any]
    form: Form
    address: str
    where: tuple[str, int, int]  # path, line, end line
    statement_lines: tuple[int, ...]
    principals: tuple[str, ...]
    #: what ``--map`` may name it by: Terraform addresses, and the files it is written in
    addresses: tuple[str, ...]
    paths: tuple[str, ...]


@dataclass
class Module:
    policies: list[Found] = field(default_factory=list)
    gaps: list[Unresolved] = field(default_factory=list)
    #: files that could not be read at all
    failures: list[tuple[str, hcl.Unreadable]] = field(default_factory=list)


@dataclass(frozen=True)
class _Document:
    """A policy document resolved from Terraform, and where its statements are."""

    policy: Policy
    document: dict[str, Any]
    form: Form
    where: tuple[str, int, int]
    statement_lines: tuple[int, ...]
    addresses: tuple[str, ...]
    paths: tuple[str, ...]


def read_module(folder: str, paths: list[str]) -> Module:
    """Every identity policy the module's files define, with its principals; gaps and unreadable files."""
    module = Module()
    blocks: dict[tuple[str, str, str], Block] = {}
    for path in paths:
        try:
            parsed = list(_parse(path))
        except hcl.Unreadable as bad:
            module.failures.append((path, bad))
            continue
        for block in parsed:
            key = (block.kind, block.type, block.name)
            if key in blocks:
                _gap(module, block, "block", f"is also defined in {blocks[key].path}; the first one is read")
                continue
            blocks[key] = block
    _Resolver(folder, blocks, module).run()
    return module


def _gap(module: Module, block: Block, what: str, why: str) -> None:
    module.gaps.append(Unresolved(block.path, block.lines[0], block.address, what, why))


# --- parsing -------------------------------------------------------------------------------------------


def _parse(path: str) -> Iterator[Block]:
    text = hcl.read_text(path)
    tokens = hcl.scan(text, templates=not path.endswith(".tf.json"))
    if path.endswith(".tf.json"):
        yield from _json_blocks(path, text, tokens)
        return
    try:
        raw = hcl.loads(text)
    except hcl.PARSE_ERRORS as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise hcl.Unreadable(f"is not valid HCL: {first}", hint="Run 'terraform validate' on it") from None
    spans = hcl.index_blocks(tokens)
    for kind in ("resource", "data"):
        for entry in raw.get(kind, []):
            for type_, named in entry.items():
                for name, body in named.items():
                    type_, name = hcl.label(type_), hcl.label(name)
                    value = hcl.value(body)
                    if isinstance(value, dict):
                        yield Block(
                            kind,
                            type_,
                            name,
                            value,
                            path,
                            text,
                            tokens,
                            spans.get((kind, type_, name)),
                            False,
                        )


def _json_blocks(path: str, text: str, tokens: list[hcl.Token]) -> Iterator[Block]:
    data = hcl.load_json(text)
    if not isinstance(data, dict):
        raise hcl.Unreadable("is not Terraform JSON (a JSON object of blocks)")
    for kind in ("resource", "data"):
        sections = data.get(kind) or []
        for section in sections if isinstance(sections, list) else [sections]:
            for type_, named in section.items() if isinstance(section, dict) else ():
                for name, body in named.items() if isinstance(named, dict) else ():
                    for one in body if isinstance(body, list) else [body]:
                        value = _json_value(one)
                        if isinstance(value, dict):
                            span = hcl.find_json_block(tokens, type_, name)
                            yield Block(kind, type_, name, value, path, text, tokens, span, True)


def _json_value(raw: Any) -> Value:
    """Terraform's JSON syntax: every string is a template (``"${var.x}"`` is an expression)."""
    if isinstance(raw, str):
        return hcl.template(raw)
    if isinstance(raw, list):
        return [_json_value(item) for item in raw]
    if isinstance(raw, dict):
        return {key: _json_value(item) for key, item in raw.items()}
    return raw


def _nested(body: dict[str, Value], name: str) -> list[dict[str, Value]]:
    """The nested blocks ``name`` of a body (HCL gives a list, Terraform JSON an object or a list)."""
    value = body.get(name)
    items = value if isinstance(value, list) else [] if value is None else [value]
    return [item for item in items if isinstance(item, dict)]


def _dynamic(body: dict[str, Value]) -> set[str]:
    return {label for entry in _nested(body, "dynamic") for label in entry}


# --- resolving -----------------------------------------------------------------------------------------


class _Resolver:
    def __init__(self, folder: str, blocks: dict[tuple[str, str, str], Block], module: Module) -> None:
        self.folder = folder
        self.blocks = blocks
        self.module = module
        self.documents: dict[str, _Document | None] = {}

    def gap(self, block: Block, what: str, why: str) -> None:
        _gap(self.module, block, what, why)

    def run(self) -> None:
        attached = self.attachments()
        used: set[str] = set()
        for block in self.blocks.values():
            if block.kind != "resource" or block.type not in IDENTITY:
                continue
            policy = block.body.get("policy")
            if isinstance(policy, Expr) and (ref := _DATA_REF.fullmatch(policy.text)):
                used.add(ref[1])
            resolved = self.policy(block)
            holders = self.holders(block, attached)
            if resolved is not None:
                self.emit(resolved, block.address, holders)
        self.standalone(used)

    def emit(self, doc: _Document, address: str, holders: list[str]) -> None:
        """One policy, labelled by the resource that grants it; its address names the block at its location
        (the ``data`` block when the document is one, which is what a patch rewrites)."""
        policy = replace(doc.policy, label=address)
        addresses = tuple(dict.fromkeys((*doc.addresses, address)))
        lines = doc.statement_lines
        found = Found(
            policy,
            doc.document,
            doc.form,
            addresses[0],
            doc.where,
            lines,
            tuple(holders),
            addresses,
            doc.paths,
        )
        self.module.policies.append(found)

    def standalone(self, used: set[str]) -> None:
        """Documents no identity policy uses: checked on their own unless something else uses them."""
        elsewhere = {
            ref
            for block in self.blocks.values()
            for text in _texts(block.body)
            for ref in _DATA_REF.findall(text)
        }
        for (kind, type_, name), block in self.blocks.items():
            if kind != "data" or type_ != _DOCUMENT or name in used or name in elsewhere:
                continue
            if any(
                _nested(s, p)
                for s in _nested(block.body, "statement")
                for p in ("principals", "not_principals")
            ):
                self.gap(
                    block, "document", "names principals: a trust or resource policy, not an identity policy"
                )
                continue
            doc = self.document(name)
            if doc is not None:
                self.emit(doc, block.address, [])

    # --- principals

    def holders(self, block: Block, attached: dict[str, list[str]]) -> list[str]:
        attribute = IDENTITY[block.type]
        if attribute is None:
            return sorted(set(attached.get(block.name, [])))
        holder = self.principal(block, attribute, attribute, block.body.get(attribute))
        return [holder] if holder else []

    def attachments(self) -> dict[str, list[str]]:
        """Managed policy name -> the principals attachment resources give it."""
        attached: dict[str, list[str]] = {}
        for block in self.blocks.values():
            if block.kind != "resource" or block.type not in ATTACHMENTS:
                continue
            target = self.attached_policy(block)
            if target is None:
                continue  # said once by attached_policy; who has a policy not read here does not matter
            for attribute, kind, many in ATTACHMENTS[block.type]:
                value = block.body.get(attribute)
                if value is None:
                    continue
                values = value if many and isinstance(value, list) else [value]
                if many and not isinstance(value, list):
                    self.gap(block, attribute, f"is {value}: only Terraform knows it")
                    continue
                for one in values:
                    holder = self.principal(block, attribute, kind, one)
                    if holder:
                        attached.setdefault(target, []).append(holder)
        return attached

    def attached_policy(self, block: Block) -> str | None:
        value = block.body.get("policy_arn")
        ref = _ENTITY_REF.fullmatch(value.text) if isinstance(value, Expr) and not value.template else None
        if (
            ref
            and ref[1] == "aws_iam_policy"
            and ref[3] in ("arn", "id")
            and ("resource", *ref.groups()[:2]) in self.blocks
        ):
            return ref[2]
        shown = value if isinstance(value, str) else str(value) if value is not None else "missing"
        self.gap(
            block,
            "policy_arn",
            f"{shown} is not an aws_iam_policy of this module: its grants are not checked",
        )
        return None

    def principal(self, block: Block, attribute: str, kind: str, value: Value) -> str | None:
        """``role/NAME``, ``user/NAME`` or an ARN for a role or user attribute; None (and a gap) otherwise."""
        if kind == "group":
            self.gap(block, attribute, "group members are not known from Terraform; give them with --map")
            return None
        if isinstance(value, str) and value:
            parts = entity_arn_parts(value) if value.startswith("arn:") else None
            if parts and parts[2] == kind:
                return value
            if not value.startswith("arn:"):
                return f"{kind}/{value}"
            why = f"is not an IAM {kind} ARN"
        elif isinstance(value, Expr) and not value.template and (ref := _ENTITY_REF.fullmatch(value.text)):
            target = self.blocks.get(("resource", ref[1], ref[2]))
            name = target.body.get("name") if target else None
            if ref[1] == f"aws_iam_{kind}" and isinstance(name, str) and name:
                return f"{kind}/{name}"
            why = (
                "is not defined in the Terraform files read from this folder"
                if target is None
                else "has no literal name (name_prefix, a variable or a generated name)"
            )
        else:
            why = "only Terraform knows it"
        self.gap(block, attribute, f"{value if isinstance(value, str) else str(value)} {why}")
        return None

    # --- documents

    def policy(self, block: Block) -> _Document | None:
        """The document of an identity policy resource; None (with gaps) when it cannot be known in full."""
        value = block.body.get("policy")
        form: Form = "tf-json" if block.json else "terraform-heredoc"
        if isinstance(value, str) or (isinstance(value, Expr) and value.template):
            return self.text_document(block, value, form)
        if not isinstance(value, Expr):
            self.gap(block, "policy", "is missing" if value is None else "is not a string of JSON")
            return None
        if (arg := hcl.call(value, "jsonencode")) is not None:
            return self.encoded(block, arg)
        if (arg := hcl.call(value, "file")) is not None:
            return self.file(block, arg)
        if ref := _DATA_REF.fullmatch(value.text):
            doc = self.document(ref[1])
            if doc is None:
                why = f"data.{_DOCUMENT}.{ref[1]} is not resolved, so this policy is not checked"
                self.gap(block, "policy", why)
            return doc
        self.gap(block, "policy", f"is {value}: only Terraform knows it, so this policy is not checked")
        return None

    def text_document(self, block: Block, value: str | Expr, form: Form) -> _Document | None:
        """A heredoc or string of JSON; with ``${...}`` inside, only those values are unknown."""
        text = value if isinstance(value, str) else value.text
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            inside = " (a ${...} outside a JSON string cannot be read)" if isinstance(value, Expr) else ""
            self.gap(block, "policy", f"is not valid JSON{inside}: {exc}")
            return None
        if isinstance(value, Expr):
            parsed = _templates(parsed)
        lines = self.lines_after(block, "policy")
        return self.checked(block, parsed, form, lines)

    def encoded(self, block: Block, argument: str) -> _Document | None:
        try:
            parsed = hcl.expression(argument)
        except hcl.PARSE_ERRORS:
            self.gap(block, "policy", "the argument of jsonencode cannot be read")
            return None
        form: Form = "tf-json" if block.json else "terraform-jsonencode"
        return self.checked(block, parsed, form, self.lines_after(block, "policy"))

    def file(self, block: Block, argument: str) -> _Document | None:
        try:
            name = hcl.expression(argument)
        except hcl.PARSE_ERRORS:
            name = None
        if isinstance(name, Expr) and name.template:
            name = name.text.replace("${path.module}", ".")
        if not isinstance(name, str) or hcl.interpolates(name):
            self.gap(block, "policy", f"file({argument}) names a file only Terraform knows")
            return None
        path = os.path.normpath(os.path.join(self.folder, name))
        try:
            text = hcl.read_text(path)
            parsed = hcl.load_json(text)
        except hcl.Unreadable as bad:
            self.gap(block, "policy", f"file {path} {bad.problem}")
            return None
        tokens = hcl.scan(text, templates=False)
        groups = hcl.statement_lines(tokens)
        end = tokens[-1].line if tokens else 0
        where = (path, 1 if tokens else 0, end)
        return self.checked(block, parsed, "terraform-file", groups[0] if groups else (), path, where)

    def document(self, name: str) -> _Document | None:
        """A ``data "aws_iam_policy_document"`` block's document, resolved once (its gaps reported once)."""
        if name not in self.documents:
            block = self.blocks.get(("data", _DOCUMENT, name))
            self.documents[name] = None if block is None else self.data_document(block)
        return self.documents[name]

    def data_document(self, block: Block) -> _Document | None:
        body = block.body
        merging = ("source_policy_documents", "override_policy_documents", "source_json", "override_json")
        merged = [key for key in merging if key in body]
        if merged or "statement" in _dynamic(body):
            what = merged[0] if merged else "dynamic statement"
            self.gap(
                block, what, "only Terraform knows the statements it makes, so this document is not checked"
            )
            return None
        statements = [self.data_statement(block, i, s) for i, s in enumerate(_nested(body, "statement"))]
        if None in statements:
            return None
        statement_list: list[Value] = [s for s in statements if s is not None]
        document: dict[str, Value] = {
            "Version": body.get("version") or "2012-10-17",
            "Statement": statement_list,
        }
        form: Form = "tf-json" if block.json else "terraform-document"
        if block.span is None:
            lines: tuple[int, ...] = ()
        elif block.json:
            groups = hcl.statement_lines(block.tokens[block.span[0] : block.span[1] + 1], "statement")
            lines = groups[0] if groups else ()
        else:
            inner = block.tokens[block.span[0] + 1 : block.span[1]]
            lines = tuple(inner[open_].line for open_, _ in hcl.blocks(inner, "statement"))
        return self.checked(block, document, form, lines)

    def data_statement(self, block: Block, index: int, body: dict[str, Value]) -> dict[str, Value] | None:
        """A ``statement`` block as JSON; None (and a gap) when it is incomplete."""
        names = {"sid": "Sid", "effect": "Effect", "actions": "Action", "not_actions": "NotAction"}
        names |= {"resources": "Resource", "not_resources": "NotResource"}
        out: dict[str, Value] = {"Effect": "Allow"}
        out |= {key: _ampersand(body[attr]) for attr, key in names.items() if attr in body}
        for kind in ("principals", "not_principals"):
            if _nested(body, kind):
                self.gap(block, f"statement[{index}].{kind}", "ignored: identity policies name no principal")
        conditions: dict[str, Value] = {}
        for number, condition in enumerate(_nested(body, "condition")):
            test, variable = condition.get("test"), condition.get("variable")
            values = condition.get("values")
            if test is None or variable is None or values is None:
                what = f"statement[{index}].condition[{number}]"
                self.gap(block, what, "needs test, variable and values, so this document is not checked")
                return None
            operator = conditions.setdefault(str(test), {})
            if isinstance(operator, dict):
                known = operator.get(str(variable))
                listed = values if isinstance(values, list) else [values]
                # blocks with the same test and variable add their values up, not replace each other
                operator[str(variable)] = [
                    *(known if isinstance(known, list) else []),
                    *map(_ampersand, listed),
                ]
        if "condition" in _dynamic(body):
            conditions["${dynamic}"] = {"${dynamic}": ["${dynamic}"]}
            why = "only Terraform knows it, kept as ${dynamic}: the statement counts as conditional"
            self.gap(block, f"statement[{index}].dynamic condition", why)
        if conditions:
            out["Condition"] = conditions
        return out

    def lines_after(self, block: Block, attribute: str) -> tuple[int, ...] | int:
        """Statement lines of an attribute's value: a heredoc's own JSON, ``Statement = [...]`` in HCL, or
        the line of a string of JSON (every statement is on it)."""
        if block.span is None:
            return ()
        start = hcl.attribute(block.tokens, *block.span, attribute)
        if start is None:
            return ()
        token = block.tokens[start]
        if token.kind == "string" and "\n" not in token.text:
            return token.line
        if token.kind == "heredoc":
            tokens = hcl.scan(block.text, token.start, token.end, token.line + 1)
        else:
            tokens = block.tokens[start : block.span[1]]
        groups = hcl.statement_lines(tokens)
        return groups[0] if groups else ()

    def checked(
        self,
        block: Block,
        value: Value,
        form: Form,
        lines: tuple[int, ...] | int,
        file: str | None = None,
        where: tuple[str, int, int] | None = None,
    ) -> _Document | None:
        """The document if every value that decides what it grants is known; gaps for the rest."""
        unknown: list[tuple[str, bool]] = []
        document = _plain(value, "", unknown)
        for path, soft in unknown:
            why = (
                "kept as written: the statement counts as conditional"
                if soft
                else "so this policy is not checked"
            )
            self.gap(block, path, f"only Terraform knows it, {why}")
        if any(not soft for _, soft in unknown):
            return None
        if not isinstance(document, dict):
            self.gap(block, "policy", "is not a JSON object")
            return None
        try:
            policy = parse_document(document, block.address)
        except BadDocument as bad:
            self.gap(block, "policy", f"{bad.where} {bad.problem}")
            return None
        count = len(policy.statements)
        if isinstance(lines, int):
            lines = (lines,) * count
        lines = lines if len(lines) == count else (0,) * count
        addresses = (block.address,) if block.kind == "data" else ()
        paths = (block.path,) if file is None else (block.path, file)
        where = where or (block.path, *block.lines)
        return _Document(policy, document, form, where, lines, addresses, paths)


def _ampersand(value: Value) -> Value:
    """The provider's spelling of IAM policy variables in a document block: ``&{aws:username}`` is
    ``${aws:username}`` in the policy (``${`` would be Terraform's own interpolation)."""
    if isinstance(value, str):
        return value.replace("&{", "${")
    if isinstance(value, list):
        return [_ampersand(item) for item in value]
    return value


def _templates(value: Any) -> Value:
    """JSON text read from a template: each string is a template of its own again."""
    if isinstance(value, str):
        return hcl.template(value)
    if isinstance(value, list):
        return [_templates(item) for item in value]
    if isinstance(value, dict):
        return {key: _templates(item) for key, item in value.items()}
    return value


def _plain(value: Value, path: str, unknown: list[tuple[str, bool]]) -> Any:
    """``value`` as JSON; each :class:`Expr` is kept as written and listed in ``unknown`` with its path and
    whether it sits where it cannot change what is granted (a ``Condition`` or a ``Sid``)."""
    if isinstance(value, Expr):
        unknown.append((f"{path or 'policy'} = {value}", ".Condition" in path or path.endswith(".Sid")))
        return str(value)
    if isinstance(value, list):
        return [_plain(item, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if hcl.interpolates(key):
                unknown.append((f"{path}.{key}", ".Condition" in path))
            out[key] = _plain(item, f"{path}.{key}" if path else key, unknown)
        return out
    return value


def _texts(value: Value) -> Iterator[str]:
    """Every expression's text in a value."""
    if isinstance(value, Expr):
        yield value.text
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
