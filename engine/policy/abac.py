"""Attribute-based access from the trail (``policy --abac``): a tag condition instead of a list of ARNs,
where the trail shows which tags the resources and the principal carried.

For each action of a policy, each resource it was granted on is looked up in the tags the trail shows
(:class:`trailsmith.sql.tags.TagTimeline`) over the span of its calls, first seen to last seen: a tag that one
tagging call set before the first call and that nothing changed or removed before the last was on the
resource at every call. Among the resources whose tags are known, the tag key carried by the most of them
(at least one) is chosen when the action supports ``aws:ResourceTag/<key>`` (IAM reference data) and:

- every one of them carried the value that the principal's own tag of that key had over all its calls (its
  IAM role's or user's tags, from the same trail, with no session of the role given another value, since a
  session tag overrides the role's): ``aws:ResourceTag/<key>`` equals ``${aws:PrincipalTag/<key>}``;
- or every one of them carried one value: ``aws:ResourceTag/<key>`` equals that value.

Those resources' ARNs then become the pattern of their type in their account and region
(``arn:aws:ec2:eu-west-1:111122223333:instance/*``) under that condition. Every other resource keeps its ARN:
those whose tags the trail does not show (tags set before it starts are unknown, which is not "untagged"),
those without the chosen tag, and those of a type whose ARN has no type prefix to widen to (an S3 bucket).

Each resource carried the tag at each call and the pattern holds its ARN, so every observed call is still
allowed; :mod:`trailsmith.iam.replay` replays them through the IAM evaluator with the tags they carried.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from trailsmith.actions.mapping import event_host, map_event
from trailsmith.actions.reference import action_info, type_condition_keys
from trailsmith.policy.arns import allowed_characters, covers, split_arn
from trailsmith.policy.conditions import Observed, supports
from trailsmith.policy.document import Entry
from trailsmith.policy.extract.generic import alternatives, creates
from trailsmith.policy.model import Condition, ConditionNote, merge_all
from trailsmith.sql import tagging
from trailsmith.sql.tagging import Set
from trailsmith.sql.tags import TagTimeline

#: What a tag key may hold to be written into a condition key: the characters AWS allows in tag keys.
_TAG_KEY = re.compile(r"^[\w.:/=+\-@ ]{1,128}$")


@dataclass
class Tags:
    """What the trail shows of tags: each resource's over time (``resource_tags``, IAM roles and users
    included) and each session's (``session_tags``)."""

    timeline: TagTimeline
    #: role -> tag key -> every value a session of the role was given (``_identity`` of the role)
    sessions: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    #: access key id of a session -> its tags: key -> (value, when the session was issued)
    by_access_key: Mapping[str, Mapping[str, tuple[str, datetime]]] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, resource_tags: pa.Table, session_tags: pa.Table | None = None) -> Tags:
        """From the rows of the ``resource_tags`` and ``session_tags`` views (either engine's)."""
        sessions: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        by_key: dict[str, dict[str, tuple[str, datetime]]] = defaultdict(dict)
        if session_tags is not None:
            columns = ["roleArn", "accessKeyId", "tagKey", "tagValue", "eventTime"]
            for row in session_tags.select(columns).to_pylist():
                if not row["roleArn"] or row["tagKey"] is None or row["tagValue"] is None:
                    continue
                sessions[_identity(row["roleArn"])][row["tagKey"]].add(row["tagValue"])
                if row["accessKeyId"]:
                    by_key[row["accessKeyId"]][row["tagKey"]] = (row["tagValue"], _utc(row["eventTime"]))
        frozen = {role: {k: frozenset(v) for k, v in keys.items()} for role, keys in sessions.items()}
        return cls(TagTimeline.from_table(resource_tags), frozen, dict(by_key))

    @functools.cached_property
    def _identities(self) -> dict[str, list[str]]:
        """``_identity`` -> the role and user ARNs of the timeline with it (one, unless paths differ)."""
        out: dict[str, list[str]] = defaultdict(list)
        for arn in self.timeline.arns():
            if found := _identity(arn):
                out[found].append(arn)
        return dict(out)

    def held(self, arn: str, first: datetime, last: datetime) -> dict[str, tuple[str, datetime]]:
        """The tags ``arn`` carried from before ``first`` to ``last``, unchanged: key -> (value, set at)."""
        start, end = self.timeline.at(arn, _utc(first)), self.timeline.at(arn, _utc(last))
        # strictly before the first call: IAM decides on the tags a resource had before the call, and a tag
        # set in the same second may have been set by the call itself (CloudTrail records seconds)
        return {
            key: (tag.value, tag.since)
            for key, tag in start.items()
            if tag.since < _utc(first) and key in end and end[key].event_id == tag.event_id
        }

    def principal(
        self, principal: str, first: datetime, last: datetime, access_keys: Iterable[str] = ()
    ) -> dict[str, tuple[str, datetime]]:
        """The tags the principal carried at every one of its calls, for ``${aws:PrincipalTag/...}``.

        Its IAM role's or user's own tags held from ``first`` to ``last``; with the ``access_keys`` its calls
        were signed with, each session's tags over them (a session tag overrides the role's, and a session
        the trail shows no tags for has the role's): a tag counts when every key's session had it, with one
        value. Without the keys, a role's own tag counts unless some session of it was given another value.
        """
        wanted = _identity(principal)
        if not wanted:
            return {}
        arns = self._identities.get(wanted, [])
        # unknown, or several IAM paths for one name: no guess at its own tags
        own = self.held(arns[0], first, last) if len(arns) == 1 else {}
        keys = sorted(set(access_keys))
        if not keys:
            sessions = self.sessions.get(wanted, {})
            return {k: got for k, got in own.items() if sessions.get(k, frozenset({got[0]})) == {got[0]}}
        effective = [own | dict(self.by_access_key.get(key, {})) for key in keys]
        common = set.intersection(*(set(e) for e in effective))
        return {k: effective[0][k] for k in sorted(common) if len({e[k][0] for e in effective}) == 1}


def _utc(when: datetime) -> datetime:
    """``when`` as UTC: evidence read from a warehouse may come without its zone, the timeline's has one."""
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _identity(arn: str) -> str:
    """``account:role/name`` (or ``user/name``) of an IAM role or user ARN, whatever its path; else "".

    >>> _identity("arn:aws:iam::111122223333:role/teams/red-deployer")
    '111122223333:role/red-deployer'
    >>> _identity("arn:aws:s3:::bucket")
    ''
    """
    parts = split_arn(arn)
    if parts is None or parts[1] != "iam":
        return ""
    kind, _, rest = parts[4].partition("/")
    if kind not in ("role", "user") or not rest:
        return ""
    return f"{parts[3]}:{kind}/{rest.rsplit('/', 1)[-1]}"


def type_pattern(arn: str, fmt: str) -> str | None:
    """The pattern of every resource of ``arn``'s type in its account and region, from the reference's ARN
    format (its resource part up to the first variable), or None when the format has no such prefix.

    >>> fmt = "arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}"
    >>> type_pattern("arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc", fmt)
    'arn:aws:ec2:eu-west-1:111122223333:instance/*'
    >>> type_pattern("arn:aws:s3:::reports", "arn:${Partition}:s3:::${BucketName}") is None
    True
    """
    parts, fmt_parts = split_arn(arn), fmt.split(":", 5)
    if parts is None or len(fmt_parts) != 6:
        return None
    prefix = fmt_parts[5].split("${", 1)[0]
    if not prefix or prefix[-1] not in "/:" or "*" in prefix or not parts[4].startswith(prefix):
        return None
    partition, service, region, account, _ = parts
    pattern = f"arn:{partition}:{service}:{region}:{account}:{prefix}*"
    return pattern if covers(pattern, arn) else None


def _usable(key: str, value: str) -> str:
    """Why a tag cannot be written into a condition, or ""."""
    if not _TAG_KEY.match(key):
        return f"the tag key {key!r} holds characters a condition key cannot"
    if "$" in value or allowed_characters(value)[1]:
        # a value with ``${`` would be read as a policy variable
        return f"the value of {key!r} holds characters a policy value cannot"
    return ""


def tag_supported(action: str, fmt: str) -> bool:
    """Whether ``action`` can test ``aws:ResourceTag/...`` on an existing resource of the type whose ARN
    format is ``fmt``: where the actions table lists the key for the action or for its row of that type, or
    the resource types table lists it for the type (whose keys hold for the actions on it). Never for an
    action that makes a resource of the type: before the call there is nothing to carry a tag, and a
    condition on an absent key denies.

    >>> function = "arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}"
    >>> tag_supported("lambda:InvokeFunction", function), tag_supported("lambda:CreateFunction", function)
    (True, False)
    >>> tag_supported("s3:ListAllMyBuckets", "")
    False
    """
    try:
        info = action_info(action)
    except KeyError:
        return False
    wanted = "aws:resourcetag/${tagkey}"
    types = [rt for rt in info.resource_types if fmt and fmt in alternatives(rt.arn)]
    if not types or any(creates(info.action.split(":", 1)[1], rt.name) for rt in types):
        return False
    if wanted in {k.lower() for k in info.condition_keys}:
        return True
    by_type = type_condition_keys(info.action.split(":", 1)[0].lower())
    return any(
        wanted in {k.lower() for k in (*rt.condition_keys, *by_type.get(rt.name.lower(), ()))} for rt in types
    )


def _choose(
    action: str,
    tagged: Mapping[str, dict[str, tuple[str, datetime]]],
    principal: Mapping[str, tuple[str, datetime]],
    formats: Mapping[tuple[str, str], str],
) -> tuple[str, str, list[str], str]:
    """(key, condition value, resources it covers, why not) for one action's resources with known tags."""
    carriers: Counter[str] = Counter(key for tags in tagged.values() for key in tags)
    reasons: list[str] = []
    for key, _ in sorted(carriers.items(), key=lambda item: (-item[1], item[0])):
        holders = [arn for arn, tags in tagged.items() if key in tags]
        values = {tagged[arn][key][0] for arn in holders}
        why = next((w for w in (_usable(key, v) for v in sorted(values)) if w), "")
        if why:
            reasons.append(why)
            continue
        if not all(tag_supported(action, formats.get((action, arn), "")) for arn in holders):
            reasons.append(f"{action} does not support aws:ResourceTag on these resources")
            continue
        own = principal.get(key)
        if own is not None and values == {own[0]}:
            return key, f"${{aws:PrincipalTag/{key}}}", holders, ""
        if len(values) == 1:
            return key, values.pop(), holders, ""
        reasons.append(f"the resources carry {len(values)} values of {key!r}, and the principal no such tag")
    return "", "", [], reasons[0] if reasons else "no tag is common to the resources"


def propose(
    entries: Sequence[Entry],
    formats: Mapping[tuple[str, str], str],
    tags: Tags,
    principals: Iterable[str],
    refused: frozenset[str] = frozenset(),
    principal: Mapping[str, tuple[str, datetime]] | None = None,
) -> tuple[list[Entry], tuple[ConditionNote, ...]]:
    """``entries`` with the resources of each action that carried a common tag replaced by their types'
    patterns under an ``aws:ResourceTag`` condition; and a note per action with resource ARNs.

    ``formats`` gives each (action, resource) its reference ARN format; ``principals`` are the callers whose
    calls made the policy (one, or the roles a grouped policy merges): ``${aws:PrincipalTag/...}`` is used
    only for a tag every one of them carried. ``refused``: actions to leave as they are (the replay found
    that their condition would deny a call).
    """
    by_action: dict[str, list[Entry]] = defaultdict(list)
    out: list[Entry] = []
    for entry in entries:
        plain = not entry.conditions and entry.resource.startswith("arn:") and "*" not in entry.resource
        (by_action[entry.action] if plain and entry.action not in refused else out).append(entry)
    if not by_action:
        return list(entries), ()
    if principal is None:
        first = min(e.evidence.first_seen for e in entries)
        last = max(e.evidence.last_seen for e in entries)
        principal = _common([tags.principal(p, first, last) for p in principals])
    notes: list[ConditionNote] = []
    for action in sorted(by_action):
        found = by_action[action]
        calls = sum(e.evidence.events for e in found)
        tagged = {
            e.resource: tags.held(e.resource, e.evidence.first_seen, e.evidence.last_seen)
            for e in found
            if tags.timeline.known(e.resource)
        }
        if not tagged:
            out.extend(found)
            notes.append(ConditionNote(action, RESOURCE_TAG, "not-proposed", calls, reason=_UNKNOWN))
            continue
        key, value, holders, why = _choose(action, tagged, principal, formats)
        patterns = {arn: type_pattern(arn, formats.get((action, arn), "")) for arn in holders}
        covered = [e for e in found if patterns.get(e.resource)]
        if not covered:
            out.extend(found)
            reason = why or "their ARN formats have no type prefix to widen to"
            notes.append(ConditionNote(action, RESOURCE_TAG, "not-proposed", calls, reason=reason))
            continue
        condition = Condition("StringEquals", f"aws:ResourceTag/{key}", (value,))
        since = min(tagged[e.resource][key][1] for e in covered)
        for pattern in sorted({p for p in patterns.values() if p}):
            mine = [e for e in covered if patterns[e.resource] == pattern]
            note = f"abac: {len(mine)} resource(s) tagged {key}, known since {since.isoformat()}"
            out.append(Entry(action, pattern, merge_all([e.evidence for e in mine]), (condition,), (note,)))
        out.extend(e for e in found if not patterns.get(e.resource))
        told = f"{len(covered)} of {len(found)} resources, tags known since {since.isoformat()}"
        used = sum(e.evidence.events for e in covered)
        notes.append(ConditionNote(action, condition.key, "emitted", used, condition, reason=told))
    return out, tuple(notes)


#: The key family the notes of ``--abac`` name when no tag key was chosen.
RESOURCE_TAG = "aws:ResourceTag/*"
REQUEST_TAG = "aws:RequestTag/*"
_UNKNOWN = "the trail shows no tags of these resources"


def _common(found: list[dict[str, tuple[str, datetime]]]) -> dict[str, tuple[str, datetime]]:
    """The tags every principal carried with one value."""
    if not found:
        return {}
    keys = set.intersection(*(set(f) for f in found))
    return {k: found[0][k] for k in keys if len({f[k][0] for f in found}) == 1}


def request_conditions(
    action: str, requested: Sequence[Mapping[str, str]], principal: Mapping[str, tuple[str, datetime]]
) -> tuple[tuple[Condition, ...], str]:
    """The conditions on the tags that calls of ``action`` (a create or tagging call) asked for, or why none:
    ``aws:RequestTag/<key>`` equal to ``${aws:PrincipalTag/<key>}`` (or to one value) for a key every call
    requested, and ``aws:TagKeys`` limited to the keys the calls requested.

    ``requested``: one mapping per call, the tags it asked for ({} for a call that asked for none). Both keys
    must be listed for the action in the reference data; a call without tags leaves ``aws:RequestTag``
    absent, which a ``StringEquals`` denies, so every call must have asked for the key.

    >>> request_conditions("ec2:CreateTags", [{"team": "red"}, {"team": "red", "env": "dev"}], {})[0]
    (Condition(operator='StringEquals', key='aws:RequestTag/team', values=('red',)), \
Condition(operator='ForAllValues:StringEquals', key='aws:TagKeys', values=('env', 'team')))
    """
    if not requested:
        return (), "no calls"
    if not (supports(action, "aws:RequestTag/key") and supports(action, "aws:TagKeys")):
        return (), f"{action} does not support aws:RequestTag and aws:TagKeys"
    if any(not tags for tags in requested):
        return (), f"{sum(1 for t in requested if not t)} of {len(requested)} calls asked for no tags"
    keys = sorted({key for tags in requested for key in tags})
    why = next((w for w in (_usable(k, v) for tags in requested for k, v in sorted(tags.items())) if w), "")
    if why:
        return (), why
    common = sorted(set.intersection(*(set(tags) for tags in requested)))
    values = {key: {tags[key] for tags in requested} for key in common}
    mine = [k for k in common if k in principal and values[k] == {principal[k][0]}]
    fixed = [k for k in common if len(values[k]) == 1]
    conditions: list[Condition] = []
    if mine:
        conditions.append(
            Condition("StringEquals", f"aws:RequestTag/{mine[0]}", (f"${{aws:PrincipalTag/{mine[0]}}}",))
        )
    elif fixed:
        conditions.append(Condition("StringEquals", f"aws:RequestTag/{fixed[0]}", tuple(values[fixed[0]])))
    conditions.append(Condition("ForAllValues:StringEquals", "aws:TagKeys", tuple(keys)))
    return tuple(conditions), ""


@dataclass(frozen=True)
class RequestedCall:
    """One successful call that set tags on resources (a create with tags, a tagging call)."""

    principal: str
    actions: tuple[str, ...]
    #: each resource it tagged, with the tags it set on it
    tagged: tuple[tuple[str, Mapping[str, str]], ...]
    event_id: str


def requested_calls(rows: Iterable[Mapping[str, Any]]) -> list[RequestedCall]:
    """The calls of ``rows`` (``principalArn`` and :data:`trailsmith.sql.tags.EVENT_COLUMNS` of candidate
    events) that set tags, read by :func:`trailsmith.sql.tagging.operations` as for ``resource_tags``."""
    out: list[RequestedCall] = []
    for row in rows:
        source, name = row.get("eventSource") or "", row.get("eventName") or ""
        ops = tagging.operations(
            source,
            name,
            row.get("awsRegion") or "",
            row.get("recipientAccountId") or "",
            row.get("requestParameters"),
            row.get("responseElements"),
        )
        tagged = tuple(
            (arn, {op.key: op.value for op in changes if isinstance(op, Set)})
            for arn, changes in ops
            if any(isinstance(op, Set) for op in changes)
        )
        if tagged and row.get("principalArn"):
            actions = map_event(event_host(source), name).actions
            out.append(RequestedCall(row["principalArn"], tuple(actions), tagged, row.get("eventID") or ""))
    return out


def attach_requested(
    entries: Sequence[Entry],
    calls: Sequence[RequestedCall],
    principal: Mapping[str, tuple[str, datetime]],
    refused: frozenset[str] = frozenset(),
) -> tuple[list[Entry], tuple[ConditionNote, ...]]:
    """``entries`` of create and tagging actions with the conditions on the tags their calls asked for
    (:func:`request_conditions`), each on the entries whose resources those calls tagged (``RunInstances``'
    ``instance/*``, never the subnet or image it also needs, whose authorisation carries no request tags).

    An entry gets them only when every one of its calls is among ``calls`` (each asked for tags on it): a
    call that asked for none is not there, and the entry is left as it is.
    """
    by_action: dict[str, list[RequestedCall]] = defaultdict(list)
    for call in calls:
        for action in call.actions:
            by_action[action].append(call)
    out: list[Entry] = []
    verdicts: dict[str, list[tuple[tuple[Condition, ...], str, int]]] = defaultdict(list)
    for entry in entries:
        mine = by_action.get(entry.action, []) if entry.action not in refused else []
        asked = [
            merged
            for call in mine
            if (merged := _merged([t for arn, t in call.tagged if covers(entry.resource, arn)])) is not None
        ]
        if not asked or entry.conditions:
            out.append(entry)
            continue
        if len(asked) < entry.evidence.events:
            missing = entry.evidence.events - len(asked)
            verdicts[entry.action].append(
                ((), f"{missing} of {entry.evidence.events} calls asked for no tags", 0)
            )
            out.append(entry)
            continue
        conditions, why = request_conditions(entry.action, asked, principal)
        verdicts[entry.action].append((conditions, why, len(asked)))
        out.append(replace(entry, conditions=conditions) if conditions else entry)
    notes: list[ConditionNote] = []
    for action, found in sorted(verdicts.items()):
        emitted = {c for conditions, _, _ in found for c in conditions}
        calls_of = sum(n for _, _, n in found)
        for condition in sorted(emitted, key=lambda c: (c.key, c.operator, c.values)):
            notes.append(ConditionNote(action, condition.key, "emitted", calls_of, condition))
        if not emitted:
            reason = next(why for _, why, _ in found if why)
            notes.append(ConditionNote(action, REQUEST_TAG, "not-proposed", calls_of, reason=reason))
    return out, tuple(notes)


def _merged(found: list[Mapping[str, str]]) -> dict[str, str] | None:
    """The tags one call set on the resources of an entry; None if it tagged none of them, or tagged them
    differently (no one request tag set then)."""
    if not found:
        return None
    first = dict(found[0])
    return first if all(dict(t) == first for t in found[1:]) else None


@dataclass
class Abac:
    """What ``--abac`` works from in one run: the trail's tags, and each principal's tagging calls.

    ``refused``: (policy, action) pairs the replay found a tag condition of would deny a call, left with their
    ARNs when the policies are built again (:mod:`trailsmith.iam.replay`).
    """

    tags: Tags
    #: principal -> its calls that set tags
    requested: Mapping[str, Sequence[RequestedCall]] = field(default_factory=dict)
    refused: frozenset[tuple[str, str]] = frozenset()
    #: principal -> the access key ids its calls were signed with ("" for calls that carry none)
    access_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: policy -> the principal tags its conditions relied on, for the replay
    principal_tags: dict[str, dict[str, tuple[str, datetime]]] = field(default_factory=dict)

    @classmethod
    def from_tables(
        cls, resource_tags: pa.Table, session_tags: pa.Table, requested: pa.Table, access_keys: pa.Table
    ) -> Abac:
        """From the ``resource_tags`` and ``session_tags`` rows, the candidate tagging calls
        (:func:`requested_calls`' rows) and the (principalArn, accessKeyId) pairs of the calls."""
        by_principal: dict[str, list[RequestedCall]] = defaultdict(list)
        for call in requested_calls(requested.to_pylist()):
            by_principal[call.principal].append(call)
        keys: dict[str, set[str]] = defaultdict(set)
        for row in access_keys.select(["principalArn", "accessKeyId"]).to_pylist():
            if row["principalArn"]:
                keys[row["principalArn"]].add(row["accessKeyId"] or "")
        used = {principal: frozenset(found) for principal, found in keys.items()}
        return cls(Tags.from_tables(resource_tags, session_tags), dict(by_principal), access_keys=used)

    def reshape(
        self,
        key: str,
        members: Sequence[str],
        entries: Sequence[Entry],
        formats: Mapping[tuple[str, str], str],
    ) -> tuple[list[Entry], tuple[ConditionNote, ...]]:
        """One policy's entries with tag conditions (:func:`propose`, :func:`attach_requested`), and notes."""
        if not entries:
            return list(entries), ()
        first = min(e.evidence.first_seen for e in entries)
        last = max(e.evidence.last_seen for e in entries)
        principal = _common(
            [self.tags.principal(m, first, last, self.access_keys.get(m, frozenset({""}))) for m in members]
        )
        self.principal_tags[key] = principal
        refused = frozenset(action for policy, action in self.refused if policy == key)
        shaped, by_resource = propose(entries, formats, self.tags, members, refused, principal)
        calls = [call for m in members for call in self.requested.get(m, ())]
        shaped, by_request = attach_requested(shaped, calls, principal, refused)
        dropped = tuple(
            ConditionNote(
                action,
                RESOURCE_TAG,
                "dropped",
                sum(e.evidence.events for e in entries if e.action == action),
                reason="replayed with the tags each call met, it would deny one: the ARNs stay",
            )
            for action in sorted(refused)
            if any(e.action == action for e in entries)
        )
        return shaped, by_resource + by_request + dropped

    @functools.cached_property
    def _by_action(self) -> dict[tuple[str, str], list[RequestedCall]]:
        """(principal, action) -> its calls that set tags with that action: the replay asks per call."""
        out: dict[tuple[str, str], list[RequestedCall]] = defaultdict(list)
        for principal, calls in self.requested.items():
            for call in calls:
                for action in call.actions:
                    out[(principal, action)].append(call)
        return dict(out)

    def contexts(self, key: str, members: Sequence[str], call: Observed) -> list[dict[str, tuple[str, ...]]]:
        """The request contexts the calls of ``call`` had as far as tags go (added to its own): the tags its
        resource carried throughout, the principal's, and for a tagging call each set of tags one asked for
        on that resource (one context each; at least one)."""
        base: dict[str, tuple[str, ...]] = dict(call.context)
        base |= {f"aws:PrincipalTag/{k}": (v,) for k, (v, _) in self.principal_tags.get(key, {}).items()}
        if call.first_seen is not None and call.last_seen is not None and call.resource.startswith("arn:"):
            held = self.tags.held(call.resource, call.first_seen, call.last_seen)
            base |= {f"aws:ResourceTag/{k}": (v,) for k, (v, _) in held.items()}
        asked = [
            merged
            for m in members
            for one in self._by_action.get((m, call.action), ())
            if (merged := _merged([t for arn, t in one.tagged if covers(call.resource, arn)])) is not None
        ]
        if not asked:
            return [base]
        return [
            base
            | {f"aws:RequestTag/{k}": (v,) for k, v in tags.items()}
            | {"aws:TagKeys": tuple(sorted(tags))}
            for tags in asked
        ]
