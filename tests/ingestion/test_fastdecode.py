"""The compiled decoder against the Python one: it declines a file, or gives exactly the Python path's batch.

Random CloudTrail files built from the record description, hostile mutations of them (truncation, bad
UTF-8, duplicate and escaped keys, huge numbers, deep nesting, wrong types), the ingest tests' own hostile
corpus, and an AddressSanitizer build of the extension running all of that in a subprocess. Every
comparison first feeds the builder a good file, so that a declined file must also leave no trace in it.
"""

from __future__ import annotations

import ctypes
import gzip
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trailsmith
from helpers.events import ACCOUNT, event, write_records
from trailsmith.ingestion import compiled
from trailsmith.ingestion.arrowize import to_batch
from trailsmith.ingestion.copies import FirstCopies
from trailsmith.ingestion.decode import FileRejected, decode_text_pieces, json_text

HERE = Path(__file__).resolve()
SOURCE = HERE.parents[2] / "engine" / "ingestion" / "_fastdecode.c"
MODULE = compiled.load()
needs_extension = pytest.mark.skipif(
    MODULE is None, reason=f"the compiled decoder is not built here (or {compiled.DISABLE_VARIABLE} is set)"
)
#: A clean file every comparison starts the builder with.
GOOD = json.dumps({"Records": [event(7), event(8)]}).encode()


# --- the two paths -----------------------------------------------------------------------------------


def python_path(text: bytes) -> pa.RecordBatch | str:
    """The Python decoder's batch of a file's text, or why it is not one clean batch of the whole file."""
    try:
        pieces = [decoded for _, decoded in decode_text_pieces(text, 1 << 30)]
    except FileRejected as exc:
        return f"file rejected: {exc}"
    except (RecursionError, ValueError) as exc:  # msgspec on nesting it will not follow, for one
        return f"decoder error: {type(exc).__name__}"
    if len(pieces) != 1 or pieces[0].kind != "events" or pieces[0].form not in ("records", "array"):
        return f"not one envelope of events: {[(p.kind, p.form) for p in pieces]}"
    decoded = pieces[0]
    if decoded.bad or decoded.extras:
        return "records rejected or with unknown keys"
    try:
        converted = to_batch(decoded.records, ["file"] * len(decoded.records), {})
    except pa.ArrowInvalid as exc:  # e.g. a JSON blob that is not UTF-8: msgspec keeps it, Arrow refuses it
        return f"conversion error: {exc}"
    if converted.rejected:
        return f"records rejected: {converted.rejected[:2]}"
    return converted.batch


def compiled_path(module: ModuleType, text: bytes) -> pa.RecordBatch | None:
    """The compiled decoder's batch of ``text``, or None when it declines it (checked to leave no trace)."""
    batches = compiled.Batches(module)
    assert batches.add(GOOD, "good") == 2
    added = batches.add(_exact(text), "file")
    batch, files = batches.take()
    batch.validate(full=True)  # offsets, bitmaps and UTF-8 all consistent
    good = python_path(GOOD)
    assert isinstance(good, pa.RecordBatch)
    assert batch.slice(0, 2).drop_columns(["sourceFile"]).equals(good.drop_columns(["sourceFile"]))
    if added is None:
        assert batch.num_rows == 2 and files == [("good", 2)]
        return None
    assert batch.num_rows == 2 + added
    assert files == [("good", 2), ("file", added)] if added else [("good", 2)]
    return batch.slice(2)


def _exact(text: bytes) -> memoryview:
    """``text`` in a buffer of exactly its length: a bytes object has a NUL byte past its end, which would
    hide a read one byte too far from AddressSanitizer (the ASan run allocates with plain malloc)."""
    return memoryview((ctypes.c_char * len(text)).from_buffer_copy(text)).cast("B")


def check(module: ModuleType, text: bytes) -> bool:
    """The differential property for one text; True when the compiled decoder took it."""
    ours = compiled_path(module, text)
    theirs = python_path(text)
    if ours is None:
        return False
    assert isinstance(theirs, pa.RecordBatch), f"compiled decoder took a file the Python path calls: {theirs}"
    assert ours.schema == theirs.schema
    for name in ours.schema.names:
        assert ours.column(name).to_pylist() == theirs.column(name).to_pylist(), name
    assert ours.equals(theirs)
    return True


# --- random files from the record description ---------------------------------------------------------

texts = st.text(max_size=12) | st.sampled_from(["", "é", "😀", '"', "\\", "\u0000", "\u2028", "a/b"])
strings = st.none() | texts
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)


def structs(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


issuers = structs(dict.fromkeys(("type", "principalId", "arn", "accountId", "userName"), strings))
sessions = structs(
    {
        "attributes": structs({"creationDate": strings, "mfaAuthenticated": strings}),
        "sessionIssuer": issuers,
        "webIdFederationData": json_values,
        "sourceIdentity": strings,
        "ec2RoleDelivery": strings,
        "assumedRoot": strings,
    }
)
identity_types = st.sampled_from(["AssumedRole", "IAMUser", "Root", "FederatedUser", "AWSService", "Other"])
identities = structs(
    {
        "type": st.none() | identity_types,
        "arn": st.none()
        | st.sampled_from(
            [f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s", f"arn:aws:iam::{ACCOUNT}:user/u", "arn:odd"]
        ),
        "principalId": strings,
        "accountId": strings,
        "accessKeyId": strings,
        "userName": strings,
        "invokedBy": strings,
        "credentialId": strings,
        "identityProvider": strings,
        "sessionContext": sessions,
        "onBehalfOf": structs({"userId": strings, "identityStoreArn": strings}),
        "inScopeOf": json_values,
    }
)
resources = st.lists(
    structs({"ARN": strings, "accountId": strings, "type": strings, "ARNPrefix": strings}), max_size=3
)
times = st.datetimes().map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")) | st.sampled_from(
    ["2024-03-01T00:00:00.123Z", "2024-03-01T00:00:00+01:00", "2024-02-30T00:00:00Z", "1899-12-31T23:59:59Z"]
)
OPTIONAL = {
    "eventVersion": strings,
    "userIdentity": st.none() | identities,
    "awsRegion": strings,
    "sourceIPAddress": strings,
    "userAgent": strings,
    "errorCode": strings,
    "errorMessage": strings,
    "requestParameters": json_values,
    "responseElements": json_values,
    "additionalEventData": json_values,
    "requestID": strings,
    "readOnly": st.none() | st.booleans(),
    "resources": st.none() | resources,
    "eventType": st.none() | st.sampled_from(["AwsApiCall", "AwsServiceEvent", "AwsCloudTrailInsight"]),
    "apiVersion": strings,
    "managementEvent": st.none() | st.booleans(),
    "recipientAccountId": strings,
    "serviceEventDetails": json_values,
    "sharedEventID": strings,
    "vpcEndpointId": strings,
    "vpcEndpointAccountId": strings,
    "eventCategory": strings,
    "tlsDetails": st.none()
    | structs(dict.fromkeys(("tlsVersion", "cipherSuite", "clientProvidedHostHeader"), strings)),
    "sessionCredentialFromConsole": strings,
    "addendum": json_values,
    "edgeDeviceDetails": json_values,
    "insightDetails": json_values,
}
records = st.fixed_dictionaries(
    {"eventID": texts, "eventTime": times, "eventSource": texts, "eventName": texts}, optional=OPTIONAL
)


@st.composite
def files(draw: st.DrawFn) -> bytes:
    """A file's text: random records, keys in any order, written with any spacing and escaping."""
    chosen = draw(st.lists(records, max_size=4))
    shuffled = [dict(draw(st.permutations(list(record.items())))) for record in chosen]
    indent = draw(st.sampled_from([None, 0, 2]))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]))
    text = json.dumps(
        {"Records": shuffled}, indent=indent, separators=separators, ensure_ascii=draw(st.booleans())
    )
    return text.encode()


def _splice(text: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at = at % (len(text) + 1)
    return text[:at] + insert + text[at + cut :]


HOSTILE_BYTES = [
    b"\xff",
    b"\xc0\xaf",  # overlong "/"
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # past U+10FFFF
    b"\x00",
    b"\\ud800",
    b"\\udc00",
    b"\\u12",
    b"\\x",
    b"\t",
    b'"',
    b",",
    b"}",
    b"]",
    b"[" * 300,
    b"1e999999",
    b"123456789012345678901234567890",
    b"-0.0e-0",
    b"01",
    b"tru",
    b"nul",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A random file, then one hostile edit of it."""
    text = draw(files())
    at = draw(st.integers(min_value=0, max_value=len(text)))
    edit = draw(st.sampled_from(["truncate", "insert", "replace", "duplicate", "escape", "retype", "nest"]))
    if edit == "truncate":
        return text[:at]
    if edit == "insert":
        return _splice(text, at, 0, draw(st.sampled_from(HOSTILE_BYTES)))
    if edit == "replace":
        return _splice(text, at, 1, draw(st.sampled_from(HOSTILE_BYTES)))
    if edit == "duplicate":  # a key twice in the first record
        return text.replace(b'"eventID"', b'"eventName": "x", "eventID"', 1)
    if edit == "escape":  # a key written with an escape: the same key to a JSON parser
        return text.replace(b'"eventName"', b'"event\\u004eame"', 1)
    if edit == "retype":
        field = draw(st.sampled_from(sorted(OPTIONAL)))
        value = draw(st.sampled_from([b"42", b"true", b'"s"', b"[]", b"{}", b"null", b"[null]", b"1.5"]))
        return text.replace(b'"eventID"', b'"' + field.encode() + b'": ' + value + b', "eventID"', 1)
    depth = draw(st.integers(min_value=1, max_value=400))
    return text.replace(
        b'"eventID"', b'"requestParameters": ' + b"[" * depth + b"]" * depth + b', "eventID"', 1
    )


# --- the properties ----------------------------------------------------------------------------------


def differential_random(module: ModuleType) -> None:
    @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(files())
    def run(text: bytes) -> None:
        check(module, text)

    run()


def differential_hostile(module: ModuleType) -> None:
    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(mutated())
    def run(text: bytes) -> None:
        check(module, text)

    run()


def differential_seen(module: ModuleType) -> None:
    """The extension's set of eventIDs (``Seen``, behind ``copies.FirstCopies``) against the dict it
    stands in for: random ids (empty, long, non-ASCII, null, repeated), slices, dates and sources in any
    order give the same runs of rows to write."""

    @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["2024-03-01", "2024-03-02"]),
                st.lists(
                    st.tuples(
                        st.one_of(
                            st.none(),
                            st.sampled_from(["a", "b", "", "é", "x" * 5000]),
                            st.text(max_size=40),
                        ),
                        st.sampled_from(["s3://b/3", "s3://b/1", "s3://b/2", "/tmp/é"]),
                    ),
                    max_size=60,
                ),
                st.integers(0, 5),
            ),
            max_size=8,
        )
    )
    def run(calls: list[tuple[str, list[tuple[str | None, str]], int]]) -> None:
        compiled_copies, python_copies = FirstCopies(module), FirstCopies(None)
        for date, rows, cut in calls:
            ids = pa.array([i for i, _ in rows], pa.string())
            sources = pa.array([s for _, s in rows], pa.string())
            if cut < len(rows):  # a slice, as the worker passes: offset buffers, not from zero
                ids, sources = ids.slice(cut), sources.slice(cut)
            assert compiled_copies.keep(date, ids, sources) == python_copies.keep(date, ids, sources)

    run()
    seen = module.Seen()
    ids = pa.array(["a", "bb"])
    _, offsets, data = ids.buffers()
    values = bytes(8)
    for arguments, message in (
        ((offsets, data, None, 0, 3, bytes(12)), "too short"),  # more rows than the offsets hold
        ((offsets, data, None, 0, 2, bytes(4)), "too short"),  # fewer values than rows
        ((offsets, data, None, -1, 2, values), "too short"),
        ((offsets, data[:2], None, 0, 2, values), "outside the data"),  # offsets past the data
        ((bytes(4) + (-5).to_bytes(4, "little", signed=True) * 2, data, None, 0, 2, values), "outside"),
        ((offsets, data, b"", 0, 2, values), "too short"),  # a validity bitmap too short
    ):
        with pytest.raises(ValueError, match=message):
            seen.first(*arguments)
    assert seen.size == 0


def hostile_corpus() -> list[bytes]:
    """The ingest tests' bad files and records, and hand-made texts at the edges of the grammar."""
    spec = importlib.util.spec_from_file_location("ingest_cases", HERE.parent / "test_ingest.py")
    assert spec is not None and spec.loader is not None
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    corpus = []
    for data, _ in cases.BAD_FILES.values():
        try:
            text = json_text(data)
        except FileRejected:
            continue
        if text is not None:
            corpus.append(text)
    for bad, _ in cases.BAD_RECORDS:
        corpus.append(json.dumps({"Records": [event(1), bad, event(2)]}).encode())
    clean = json.dumps({"Records": [event(0)]}).encode()
    corpus += [
        clean,
        b'{"Records": []}',
        b'  {"Records":[]}\n\t',
        b'{"Records": [], "Records": []}',
        b'{"Records": [], "x": 1}',
        b'{"Records": []} x',
        b'{"Records": [],}',
        b'{"Records": [1]}',
        b'{"Records": [null]}',
        b'{"Records": {}}',
        b"{}",
        b"",
        b"{",
        b'{"Records": [{}]}',
        b'{"Re\\u0063ords": []}',
        json.dumps({"Records": [event(0, userIdentity={"type": "Root", "sessionContext": None})]}).encode(),
        clean.replace(b'"userIdentity": {', b'"userIdentity": {"extra": 1, ', 1),
        clean.replace(b'"resources": [', b'"resources": [null, ', 1),
        clean.replace(b'"eventTime": "2024-03-01T00:00:00Z"', b'"eventTime": "2024-03-01T00:00:60Z"', 1),
        clean.replace(b'"eventTime": "2024-03-01T00:00:00Z"', b'"eventTime": "2024-03-01T24:00:00Z"', 1),
        clean.replace(b'"eventTime": "2024-03-01T00:00:00Z"', b'"eventTime": "2023-02-29T00:00:00Z"', 1),
        clean.replace(b'"eventTime": "2024-03-01T00:00:00Z"', b'"eventTime": "2024-02-29T00:00:00Z"', 1),
        clean.replace(
            b'"eventTime": "2024-03-01T00:00:00Z"', b'"eventTime": "2024-03-01T00:00:00\\u005a"', 1
        ),
        clean.replace(b'"eventName": "GetObject"', b'"eventName": "Get\\u00e9\\ud83d\\ude00\\n"', 1),
        clean.replace(b'"eventName": "GetObject"', b'"eventName": "Get\\ud83d"', 1),
        clean.replace(b'"eventName": "GetObject"', b'"eventName": ""', 1),
        clean.replace(b'"requestParameters": {', b'"requestParameters": {"a": "\xff", ', 1),
        clean.replace(b'"requestParameters": {', b'"requestParameters": {"a": 1, "a": 2, ', 1),
        clean.replace(b'"requestParameters": {', b'"requestParameters": {"d": ' + b"[" * 100000, 1),
        clean.replace(b'"readOnly": true', b'"readOnly": "true"', 1),
        clean.replace(b'"readOnly": true', b'"readOnly": 1', 1),
        b'{"Records": [' + b",".join([clean[13:-2]] * 50) + b"]}",
    ]
    assert len(set(corpus)) == len(corpus), "every edit above changes the text"
    corpus += [clean[:cut] for cut in range(0, len(clean), 7)]
    return corpus


def run_all(module: ModuleType) -> int:
    """Every check above against ``module``; returns how many corpus files it took (for the ASan run)."""
    taken = sum(check(module, text) for text in hostile_corpus())
    differential_random(module)
    differential_hostile(module)
    differential_seen(module)
    return taken


# --- tests ---------------------------------------------------------------------------------------------


@needs_extension
def test_the_set_of_event_ids_answers_as_the_dict_does() -> None:
    assert MODULE is not None
    differential_seen(MODULE)


@needs_extension
def test_random_files_are_declined_or_identical() -> None:
    assert MODULE is not None
    differential_random(MODULE)


@needs_extension
def test_hostile_mutations_are_declined_or_identical() -> None:
    assert MODULE is not None
    differential_hostile(MODULE)


@needs_extension
def test_the_hostile_corpus_is_declined_or_identical() -> None:
    assert MODULE is not None
    taken = [text for text in hostile_corpus() if check(MODULE, text)]
    # the clean texts are taken (the property above is not met by declining everything) ...
    assert b'{"Records": []}' in taken
    assert json.dumps({"Records": [event(0)]}).encode() in taken
    assert any(b"\\ud83d\\ude00" in text for text in taken)  # escapes are decoded, not declined
    assert any(b'"eventTime": "2024-02-29T00:00:00Z"' in text for text in taken)
    assert any(b'"a": 1, "a": 2' in text for text in taken)  # inside a blob: kept byte for byte
    # ... and what only the Python path can tell apart is not
    assert not any(b'"sessionContext": null' in text for text in taken)


@needs_extension
def test_realistic_files_take_the_compiled_path() -> None:
    assert MODULE is not None
    from helpers.events import assume_role

    caller = {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/ci", "accountId": ACCOUNT}
    recs = [event(n) for n in range(20)]
    recs += [
        assume_role(n, caller, "arn:aws:iam::1:role/R", "AKIA1", "ASIA2", ACCOUNT) for n in range(20, 25)
    ]
    recs.append(
        event(
            30, userIdentity={"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/NoIssuer/s"}
        )
    )
    recs.append(event(31, tlsDetails={"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}))
    recs.append(event(32, eventType="AwsCloudTrailInsight", insightDetails={"state": "Start"}))
    for text in (json.dumps({"Records": recs}), json.dumps({"Records": recs}, indent=2, ensure_ascii=False)):
        assert check(MODULE, text.encode())


@pytest.mark.parametrize("disabled", ["1", "yes"])
def test_the_variable_disables_the_extension(monkeypatch: pytest.MonkeyPatch, disabled: str) -> None:
    monkeypatch.setenv(compiled.DISABLE_VARIABLE, disabled)
    assert compiled.load() is None


def test_ingest_gives_the_same_warehouse_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clean files, files only the Python path reads, and duplicates across them, in one archive."""
    source = tmp_path / "in"
    for n in range(6):
        write_records(source / f"clean-{n}.json.gz", [event(10 * n + k) for k in range(5)])
    write_records(source / "extra.json.gz", [event(3, newField=1), event(70)])  # unknown key: Python path
    write_records(source / "array.json", [event(71), event(1)], form="array", gz=False)
    (source / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"Records": [event(72)]}).encode())
    write_records(source / "insight.json.gz", [event(73), event(74, eventType="AwsCloudTrailInsight")])
    reports, tables, names = {}, {}, {}
    for path in ("compiled", "python"):
        if path == "python":
            monkeypatch.setenv(compiled.DISABLE_VARIABLE, "1")
        reports[path] = trailsmith.ingest([str(source)], tmp_path / path, workers=1)
        connection = trailsmith.connect(tmp_path / path)
        try:
            tables[path] = connection.execute(
                "SELECT * EXCLUDE (sourceFile) FROM events ORDER BY eventID"
            ).fetchall()
            sources = connection.execute("SELECT eventID, sourceFile FROM events ORDER BY eventID").fetchall()
        finally:
            connection.close()
        names[path] = [(e, Path(s).name) for e, s in sources]
    assert len(tables["compiled"]) == 34 and tables["compiled"] == tables["python"]
    assert names["compiled"] == names["python"]  # duplicates kept from the same (first) file
    fields = (
        "events_read",
        "events_new",
        "events_duplicate",
        "insight_records",
        "events_by_form",
        "files_read",
    )
    assert [getattr(reports["compiled"], f) for f in fields] == [
        getattr(reports["python"], f) for f in fields
    ]
    assert reports["python"].files_by_decoder == {"python": 10}
    if MODULE is not None:
        assert reports["compiled"].files_by_decoder == {"compiled": 8, "python": 2}


def test_the_summary_says_which_decoder_read_the_files(tmp_path: Path) -> None:
    write_records(tmp_path / "in" / "a.json.gz", [event(1)])
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from trailsmith.cli.app import main; main()",
            "ingest",
            str(tmp_path / "in"),
            "--warehouse",
            str(tmp_path / "wh"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = {"compiled": 1} if MODULE is not None else {"python": 1}
    assert json.loads(done.stdout)["files_by_decoder"] == expected
    assert f"files decoded by: 1 {next(iter(expected))}" in done.stderr


# --- AddressSanitizer ----------------------------------------------------------------------------------

ASAN_RUN = """
import importlib.util, sys
sys.path.insert(0, sys.argv[2])  # the tests' folder, for helpers.events
spec = importlib.util.spec_from_file_location("_fastdecode", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
spec = importlib.util.spec_from_file_location("fastdecode_cases", sys.argv[3])
cases = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cases)
print("taken", cases.run_all(module))
"""


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


@pytest.mark.slow
@pytest.mark.skipif(
    _compiler() is None, reason="no C compiler here: the AddressSanitizer build cannot be made"
)
def test_the_whole_corpus_runs_clean_under_address_sanitizer(tmp_path: Path) -> None:
    """The extension built with ASan and UBSan runs every differential check above in a subprocess with the
    sanitizer runtime preloaded: any out-of-bounds access, use after free or undefined behaviour fails it."""
    compiler = _compiler()
    assert compiler is not None
    runtime = subprocess.run(
        [compiler, "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert os.path.isabs(runtime), f"{compiler} has no AddressSanitizer runtime ({runtime!r})"
    built = tmp_path / f"_fastdecode{sysconfig.get_config_var('EXT_SUFFIX')}"
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O1",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-fno-omit-frame-pointer",
            f"-I{sysconfig.get_paths()['include']}",
            str(SOURCE),
            "-o",
            str(built),
        ],
        check=True,
    )
    env = os.environ | {
        "LD_PRELOAD": runtime,
        # leaks are not checked: the interpreter's own would drown any report
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:exitcode=99",
        "PYTHONMALLOC": "malloc",  # every object its own allocation, so that ASan knows its bounds
        "PYTHONPATH": "",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            ASAN_RUN,
            str(built),
            str(HERE.parents[1]),
            str(HERE),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "ERROR: AddressSanitizer" not in done.stderr and "runtime error" not in done.stderr
    assert int(done.stdout.split()[-1]) > 5  # the sanitized build did take files, not only decline them


def test_the_gzip_of_every_path_is_the_same() -> None:
    """The fast gunzip call and the strict one agree; the strict one names what is wrong."""
    from trailsmith.ingestion.decode import decompress

    data = gzip.compress(GOOD)
    assert decompress(data) == GOOD
    assert decompress(data + data) == GOOD + GOOD
    assert decompress(gzip.compress(b"")) == b""
    for broken, reason in (
        (data + b"\0", "1 bytes of garbage"),
        (data + b"\0" * 8, "8 bytes of garbage"),
        (gzip.compress(b"") + b"\0" * 8, "8 bytes of garbage"),
        (data[:-3], "ends before its end marker"),
        (data[:-6] + bytes([data[-6] ^ 1]) + data[-5:], "Incorrect"),
    ):
        with pytest.raises(FileRejected, match=reason):
            decompress(broken)
