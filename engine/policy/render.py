"""Policies as text: Terraform ``aws_iam_policy_document`` blocks, ``--explain`` reports, and file names.

Terraform strings are HCL templates: ``${`` starts an interpolation and ``%{`` a directive, so both are
escaped (``$${``, ``%%{``) and IAM's own ``${*}`` survives as a literal. File names come from the ARN
through a strict character set, so no principal can name a path outside the output directory.
"""

from __future__ import annotations

import hashlib
import json
import re

from trailsmith.policy.model import (
    MAX_DOCUMENT_CHARS,
    ConditionNote,
    PolicyDocument,
    PrincipalPolicy,
    Statement,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def base_name(principal: str) -> str:
    """A file name stem for a principal: ``123456789012-role-service-app``; never a path, never hidden.

    >>> base_name("arn:aws:iam::123456789012:role/service-role/../../etc")
    '123456789012-role-service-role-etc'
    """
    parts = principal.split(":", 5)
    body = f"{parts[4]}-{parts[5]}" if len(parts) == 6 else principal
    stem = _UNSAFE.sub("-", body.replace("/", "-"))
    stem = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", "", stem)).strip("-.")
    if len(stem) > 120:
        stem = stem[:100] + "-" + hashlib.sha256(principal.encode()).hexdigest()[:12]
    return stem or hashlib.sha256(principal.encode()).hexdigest()[:12]


def unique_names(principals: list[str]) -> dict[str, str]:
    """File stems for several principals; stems that would collide get a hash of their ARN appended."""
    stems = {p: base_name(p) for p in principals}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem.lower()] = counts.get(stem.lower(), 0) + 1
    return {
        p: s if counts[s.lower()] == 1 else f"{s}-{hashlib.sha256(p.encode()).hexdigest()[:8]}"
        for p, s in stems.items()
    }


def _hcl(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _hcl_list(values: tuple[str, ...], indent: str) -> str:
    if len(values) == 1:
        return "[" + _hcl(values[0]) + "]"
    inner = "".join(f"{indent}  {_hcl(v)},\n" for v in values)
    return "[\n" + inner + indent + "]"


def _statement_hcl(statement: Statement) -> str:
    pad = "    "
    lines = [
        "  statement {",
        f"{pad}sid       = {_hcl(statement.sid)}",
        f'{pad}effect    = "Allow"',
        f"{pad}actions   = {_hcl_list(statement.actions, pad)}",
        f"{pad}resources = {_hcl_list(statement.resources, pad)}",
    ]
    for condition in statement.conditions:
        lines += [
            f"{pad}condition {{",
            f"{pad}  test     = {_hcl(condition.operator)}",
            f"{pad}  variable = {_hcl(condition.key)}",
            f"{pad}  values   = {_hcl_list(condition.values, pad + '  ')}",
            f"{pad}}}",
        ]
    lines.append("  }")
    return "\n".join(lines)


def terraform_name(principal: str, part: int | None = None) -> str:
    """A Terraform identifier: letters, digits, ``_`` and ``-``, starting with a letter."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", base_name(principal))
    stem = stem if stem[:1].isalpha() else "p_" + stem
    return stem if part is None else f"{stem}_part{part}"


def terraform(policy: PrincipalPolicy) -> str:
    """One ``data "aws_iam_policy_document"`` block per document of the policy."""
    blocks = []
    many = len(policy.documents) > 1
    for index, document in enumerate(policy.documents, start=1):
        blocks.append(_document_hcl(policy.principal, document, index if many else None))
    return "\n".join(blocks)


def _document_hcl(principal: str, document: PolicyDocument, part: int | None) -> str:
    header = f"# Least-privilege policy for {principal}" + (f", part {part}" if part else "")
    body = "\n\n".join(_statement_hcl(s) for s in document.statements)
    name = terraform_name(principal, part)
    return f'{header}\ndata "aws_iam_policy_document" "{name}" {{\n  version = "2012-10-17"\n\n{body}\n}}\n'


def explain(policy: PrincipalPolicy) -> str:
    """What ``--explain`` prints: per statement its evidence and notes, then what was left out and why."""
    lines = [f"policy for {policy.principal}"]
    if policy.members != (policy.principal,):
        lines.append(f"  merges {len(policy.members)} roles: " + ", ".join(policy.members))
    since, until = policy.window
    window = f"{since.isoformat() if since else 'start'} .. {until.isoformat() if until else 'end'}"
    lines.append(
        f"  window {window}; resources {policy.resources_mode}; {policy.events:,} events became permissions"
    )
    for number, document in enumerate(policy.documents, start=1):
        lines.append(
            f"  document {number} of {len(policy.documents)}: "
            f"{document.size:,} of {MAX_DOCUMENT_CHARS:,} characters"
        )
        for statement in document.statements:
            ev = statement.evidence
            lines.append(f"    {statement.sid}: {', '.join(statement.actions)}")
            lines.append(f"      on {', '.join(statement.resources)}")
            lines.append(
                f"      evidence: {_events(ev.events)}, "
                f"{ev.first_seen.isoformat()} .. {ev.last_seen.isoformat()}, "
                f"e.g. {', '.join(ev.sample_event_ids)}"
            )
            lines.extend(f"      note: {note}" for note in statement.notes)
            if policy.conditions_asked:
                lines.extend(
                    f"      condition: {c.operator} {c.key} {', '.join(c.values)}"
                    for c in statement.conditions
                )
    if policy.conditions_asked:
        lines.extend(_conditions(policy))
    if policy.widened:
        lines.append(
            f"  widened {len(policy.widened)} "
            + ("pattern" if len(policy.widened) == 1 else "patterns")
            + " (exact ARNs replaced by a pattern that allows them all):"
        )
        lines.extend(f"    {w.describe()}" for w in policy.widened)
    for service, events in policy.on_behalf_of:
        lines.append(
            f"  {events:,} of those calls were made for it by {service} with its identity (forward access "
            "sessions): they need its permissions"
        )
    if policy.fallbacks:
        lines.append('  allowed on "*" because the resource could not be determined:')
        lines.extend(f"    {f}" for f in policy.fallbacks)
    if policy.excluded:
        lines.append("  left out:")
        for item in policy.excluded:
            ev = item.evidence
            lines.append(
                f"    {item.reason}: {item.event_source} {item.event_name}: {_events(ev.events)} "
                f"({ev.first_seen.isoformat()} .. {ev.last_seen.isoformat()}, e.g. {ev.sample_event_ids[0]})"
                + (f": {item.detail}" if item.detail else "")
            )
    lines.extend(f"  warning: {note}" for note in policy.notes)
    return "\n".join(lines) + "\n"


def _conditions(policy: PrincipalPolicy) -> list[str]:
    """What ``--conditions`` made of each key: emitted and dropped conditions one per line, the keys not
    proposed grouped by why (they are many: one per action and key)."""
    lines = [f"  conditions asked: {', '.join(policy.conditions_asked)}"]
    skipped: dict[tuple[str, str], list[ConditionNote]] = {}
    for note in policy.conditions:
        if note.status == "not-proposed":
            skipped.setdefault((note.key, note.reason), []).append(note)
        else:
            lines.append(f"    {note.describe()}")
    for (key, reason), notes in sorted(skipped.items()):
        lacking = sum(n.lacking for n in notes)
        calls = sum(n.calls for n in notes)
        counted = f" ({lacking:,} of {calls:,} calls)" if lacking else ""
        actions = ", ".join(n.action for n in notes)
        lines.append(f"    {key} not proposed for {actions}: {reason}{counted}")
    return lines


def _events(count: int) -> str:
    return f"{count:,} event" + ("" if count == 1 else "s")


def explanation_json(policy: PrincipalPolicy) -> str:
    return json.dumps(policy.explanation(), indent=2, ensure_ascii=False) + "\n"
