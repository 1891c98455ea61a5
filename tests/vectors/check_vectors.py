#!/usr/bin/env python3
"""Cross-language check of Strata's Avro contract with fastavro.

fastavro is an Avro implementation independent of the C codec. This script
reads only the .avsc files and the vector files:

1. For each schemas/vectors/<name>.bin: checks the C3 01 marker, computes the
   CRC-64-AVRO fingerprint of every schema's Parsing Canonical Form itself,
   finds the writer schema by the fingerprint in the header, decodes the body
   (resolving to the current schema of that record kind), and compares the
   value with <name>.json. Then encodes <name>.json with the current schema
   and requires the exact bytes of <name>.bin.
2. With --emit DIR: writes new values encoded by fastavro (with the current
   schemas and with an older writer schema from schemas/history/) as
   DIR/<name>.bin + DIR/<name>.json, for the C codec to decode
   (vectors_tool check DIR).

JSON form (docs/WIRE-FORMAT.md): Avro field names, null for absent optionals,
enum symbols as strings, maps as objects, bytes as padded base64, longs as
integers. The `timestamp-millis` logical type is dropped before parsing so
that fastavro hands back the epoch-millisecond integers the wire carries; a
logical type does not change the binary encoding or the canonical form.
"""
import argparse
import base64
import copy
import glob
import io
import json
import os
import shutil
import sys

try:
    import fastavro
    from fastavro.schema import fingerprint, to_parsing_canonical_form
except ImportError:
    fastavro = None

# ctest's SKIP_RETURN_CODE for this test: fastavro is missing, nothing was
# checked (never a pass, and not a failure of the contract).
SKIPPED = 77

KINDS = {
    "io.strata.Task": "task",
    "io.strata.TaskEvent": "event",
    "io.strata.Control": "control",
    "io.strata.DeadLetter": "deadletter",
}


def strip_logical(node):
    if isinstance(node, dict):
        return {k: strip_logical(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical(v) for v in node]
    return node


def fullname(schema):
    name = schema["name"]
    return name if "." in name else schema.get("namespace", "") + "." + name


class Schema:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.json = json.load(f)
        self.path = path
        self.kind = KINDS[fullname(self.json)]
        self.current = os.sep + "history" + os.sep not in path
        pcf = to_parsing_canonical_form(self.json)
        # fastavro gives the fingerprint as hex of its little-endian bytes,
        # which is the order of the 8 bytes in the single-object header.
        self.fp = bytes.fromhex(fingerprint(pcf, "CRC-64-AVRO"))
        self.parsed = fastavro.parse_schema(strip_logical(self.json))


def load_schemas(root):
    paths = sorted(glob.glob(os.path.join(root, "*.avsc")))
    paths += sorted(glob.glob(os.path.join(root, "history", "*.avsc")))
    schemas = [Schema(p) for p in paths]
    by_fp = {s.fp: s for s in schemas}
    current = {s.kind: s for s in schemas if s.current}
    return by_fp, current


def to_json_form(v):
    """fastavro value -> the codec's JSON form (bytes become base64)."""
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if isinstance(v, dict):
        return {k: to_json_form(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json_form(x) for x in v]
    return v


def from_json_form(schema, v, named=None):
    """JSON form -> fastavro datum, walking the schema for bytes fields."""
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in named:
            return from_json_form(named[schema], v, named)
        return base64.b64decode(v, validate=True) if schema == "bytes" else v
    if isinstance(schema, list):
        if v is None:
            return None
        branch = [b for b in schema if b != "null"]
        assert len(branch) == 1, "vectors only use null|X unions"
        return from_json_form(branch[0], v, named)
    t = schema["type"]
    if t == "record":
        named[fullname(schema)] = schema
        named[schema["name"]] = schema
        return {f["name"]: from_json_form(f["type"], v[f["name"]], named)
                for f in schema["fields"]}
    if t == "array":
        return [from_json_form(schema["items"], x, named) for x in v]
    if t == "map":
        return {k: from_json_form(schema["values"], x, named) for k, x in v.items()}
    if t == "enum":
        return v
    return from_json_form(t, v, named)


def encode(schema, value):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, value)
    return b"\xc3\x01" + schema.fp + out.getvalue()


def decode(by_fp, current, data, name):
    if data[:2] != b"\xc3\x01":
        raise ValueError(f"{name}: bad magic {data[:2].hex()}")
    writer = by_fp.get(data[2:10])
    if writer is None:
        raise ValueError(f"{name}: unknown fingerprint {data[2:10].hex()}")
    reader = current[writer.kind]
    body = io.BytesIO(data[10:])
    value = fastavro.schemaless_reader(body, writer.parsed, reader.parsed)
    if body.tell() != len(data) - 10:
        raise ValueError(f"{name}: {len(data) - 10 - body.tell()} trailing bytes")
    return writer, value


def check_vectors(by_fp, current, vdir):
    failures = 0
    bins = sorted(glob.glob(os.path.join(vdir, "*.bin")))
    for path in bins:
        name = os.path.basename(path)[:-4]
        with open(path, "rb") as f:
            data = f.read()
        with open(path[:-4] + ".json", encoding="utf-8") as f:
            want = json.load(f)
        try:
            writer, value = decode(by_fp, current, data, name)
            got = to_json_form(value)
            if got != want:
                raise ValueError(f"{name}: fastavro decoded {json.dumps(got)}")
            if writer.current:
                schema = current[writer.kind]
                again = encode(schema, from_json_form(schema.json, want))
                if again != data:
                    raise ValueError(f"{name}: fastavro encodes {again.hex()}, "
                                     f"the vector is {data.hex()}")
            print(f"ok   {name} ({writer.kind}, {len(data)} bytes)")
        except Exception as e:  # report every vector, then fail
            print(f"FAIL {name}: {e}")
            failures += 1
    if not bins:
        print(f"FAIL no vectors in {vdir}")
        failures += 1
    return failures


def emit(by_fp, current, out):
    """Values made here, for the C codec to decode."""
    os.makedirs(out, exist_ok=True)
    values = {
        "task-py-full": ("task", None, {
            "id": "py-1", "idempotency_key": "k\u00e9y", "type": "py.handler",
            "tier": "high", "priority": 3, "deadline_ms": 1767225999000,
            "deadline_hard": True, "expiry_policy": "DEAD_LETTER",
            "not_before_ms": None, "estimate_ms": 42,
            "demands": {"llm.tokens": 123456789012, "gpu": 1},
            "depends_on": ["a", "b", "c"],
            "retry": {"max_attempts": 1, "backoff": "EXPONENTIAL_FULL_JITTER",
                      "base_ms": 1, "cap_ms": 2},
            "attempt": 7,
            "timeouts": {"schedule_to_start_ms": 1, "start_to_close_ms": None,
                         "heartbeat_ms": 3},
            "created_ms": 1, "enqueued_ms": 2,
            "headers": {"x": "\U0001f600"},
            "payload": base64.b64encode(bytes(range(256))).decode(),
            "checkpoint": None, "queue": "py.cpu"}),
        "event-py-heartbeat": ("event", None, {
            "task_id": "py-1", "idempotency_key": None, "attempt": 7,
            "kind": "HEARTBEAT", "time_ms": 1767225999500, "tier": "high",
            "worker_id": "py-worker", "error": None, "retryable": True,
            "usage": {}, "checkpoint": None, "routing_key": "py-1",
            "queue": None}),
        "control-py-resume": ("control", None, {
            "kind": "RESUME_TIER", "task_id": None, "tier": "low",
            "reason": None, "issued_ms": 5, "issued_by": "py"}),
        "deadletter-py-invalid": ("deadletter", None, {
            "task_id": "py-2", "reason": "INVALID",
            "detail": "Task.tier: must not be empty", "last_error": None,
            "attempts": [], "task": None, "original": "AAE=",
            "original_topic": "strata.tasks.low", "original_partition": 1,
            "original_offset": 0, "dead_lettered_ms": 6, "replayed": 0,
            "original_truncated": False}),
    }
    # Older producers: written with schemas/history/task-v*.avsc, which lack
    # the later fields (checkpoint, queue); the C reader fills them with their
    # defaults (null).
    v0 = [s for s in by_fp.values() if not s.current and s.kind == "task"]
    for s in v0:
        name = "task-py-" + os.path.basename(s.path)[:-5]
        value = {k: v for k, v in values["task-py-full"][2].items()
                 if k in {f["name"] for f in s.json["fields"]}}
        values[name] = ("task", s, value)
    for name, (kind, writer, value) in values.items():
        schema = writer or current[kind]
        data = encode(schema, from_json_form(schema.json, value))
        expected = to_json_form(decode(by_fp, current, data, name)[1])
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(data)
        with open(os.path.join(out, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(expected, f, indent=2, ensure_ascii=False)
        print(f"emit {name} ({len(data)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--emit")
    args = ap.parse_args()
    if args.emit:
        # Only this run's vectors: none at all when fastavro is missing.
        shutil.rmtree(args.emit, ignore_errors=True)
    if fastavro is None:
        msg = (f"skipped: fastavro is not installed for {sys.executable}; "
               "run ./scripts/test or pip install -r tests/requirements.txt")
        print(msg)
        if args.emit:
            # test_vectors_c_decodes_python skips with this message.
            os.makedirs(args.emit)
            with open(os.path.join(args.emit, "SKIPPED"), "w", encoding="utf-8") as f:
                f.write(msg + "\n")
        return SKIPPED
    print(f"fastavro {fastavro.__version__}")
    by_fp, current = load_schemas(args.schemas)
    for s in by_fp.values():
        print(f"schema {os.path.relpath(s.path, args.schemas)}: "
              f"fingerprint {s.fp.hex()}")
    failures = check_vectors(by_fp, current, args.vectors)
    if args.emit:
        emit(by_fp, current, args.emit)
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
