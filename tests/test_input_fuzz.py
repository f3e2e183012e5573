"""Property-based fuzzing of every file the engine reads (settings, programs, scripts,
replays, limb models) and of the command line, through the real code paths, in-process.

Every outcome must be: exit status 0 or 2; on 2, exactly one error line (``vrgmi: ...``, the
last line, at most 200 characters); never a traceback; no partial or temporary file left
behind; nothing already stored (the records, the input replay, earlier outputs) changed.
Bounded: few examples per property, no deadline (the first call compiles or loads kernels).
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from records_data import fill_history
from vrgmi.assets.glb_check import GlbError, check_glb
from vrgmi.clinic import load_input_script
from vrgmi.cli import main
from vrgmi.errors import VrgmiError
from vrgmi.input import ACTIONS
from vrgmi.program import Program, load_program
from vrgmi.records import RecordSink, open_database
from vrgmi.render.resources import model_file
from vrgmi.settings import Settings
from vrgmi.tracking.record import record_source
from vrgmi.tracking.replay import _SPECS
from vrgmi.tracking.scripted import MOTIONS, ScriptedSource

FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
#: every settings section and key ("section.name")
SECTIONS = [f.name for f in fields(Settings)]
KEYS = [f"{f.name}.{g.name}" for f in fields(Settings) for g in fields(f.default_factory())]


# -- the world: what is stored before any fuzzing, and the checks on it ------------------

class World:
    """A records database with a patient, a replay and earlier outputs; the fingerprint of
    what is stored, to compare after every example."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db_path = root / "records.sqlite3"
        self.url = f"sqlite:///{self.db_path}"
        db = open_database(self.url)
        sink = RecordSink(db)
        fill_history(sink, "P01", 2)
        sink.close()
        db.close()
        self.replay = root / "in.npz"
        record_source(ScriptedSource("reach", intact_side="right", rate_hz=30.0),
                      self.replay, 30.0, 1.0)
        self.out = root / "out"
        self.out.mkdir()
        self.precious = self.out / "earlier-dump.npz"
        assert main(["replay", str(self.replay), "--dump", str(self.precious)]) == 0
        self.earlier = self.out / "earlier.npz"       # an output a command may replace
        self.earlier.write_bytes(self.precious.read_bytes())
        self.a_file = root / "a-file.txt"
        self.a_file.write_text("not a folder\n")
        self.stored = self.fingerprint()

    def fingerprint(self) -> dict[str, object]:
        con = sqlite3.connect(self.db_path)
        try:
            tables = {row[0]: con.execute(f'SELECT * FROM "{row[0]}" ORDER BY 1').fetchall()
                      for row in con.execute("SELECT name FROM sqlite_master WHERE "
                                             "type = 'table'")}
        finally:
            con.close()
        return {"db": tables, "replay": self.replay.read_bytes(),
                "precious": self.precious.read_bytes()}

    def check(self) -> None:
        """Nothing stored changed, no temporary file, every output whole."""
        assert self.fingerprint() == self.stored
        for path in self.root.rglob("*"):
            assert not (path.name.startswith(".") and path.name.endswith(".tmp")), path
            if path.is_file() and path.parent == self.out:
                _assert_whole(path)


def _assert_whole(path: Path) -> None:
    data = path.read_bytes()
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                npz[key]
    elif path.suffix == ".json":
        json.loads(data)
    elif path.suffix == ".pdf":
        assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(autouse=True)
def _in_world(world, monkeypatch):
    monkeypatch.chdir(world.root)       # relative paths a fuzzed value names land here


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``main(argv)`` in-process: (exit status, stdout, stderr); argparse's exits count."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def assert_outcome(code: int, err: str) -> None:
    """Exit 0 or 2; on 2 one error line, the last, at most 200 characters; no traceback."""
    assert code in (0, 2), (code, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("vrgmi:")]
    if code == 2:
        assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
        assert len(errors[0]) <= 200, errors[0]
    else:
        assert not errors, err[-2000:]


def assert_one_line(exc: VrgmiError, limit: int | None = None) -> None:
    """A loader's error is one line (the command line's printer cuts it to 200 characters;
    ``limit`` where the text is built into another message)."""
    text = str(exc)
    assert text and "\n" not in text, text
    assert limit is None or len(text) <= limit, text


# -- value strategies ----------------------------------------------------------------------

TEXT = st.text(max_size=40)
NUMBERS = st.one_of(st.integers(-10 ** 6, 10 ** 6), st.floats(allow_nan=True,
                                                               allow_infinity=True),
                    st.floats(-1e3, 1e3))
SCALARS = st.one_of(NUMBERS, st.booleans(), TEXT, st.dates(), st.datetimes())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, (int,)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return v.isoformat()                 # dates and datetimes are TOML values too


def _default_settings() -> dict[str, dict[str, object]]:
    s = Settings()
    return {sec: dict(vars(getattr(s, sec))) for sec in SECTIONS}


@st.composite
def settings_files(draw) -> bytes:
    """A TOML settings file: the defaults with a few keys changed, added or misnamed, or
    random bytes, or a deeply nested document."""
    kind = draw(st.sampled_from(["edit", "edit", "edit", "bytes", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        depth = draw(st.sampled_from([100, 5000, 100_000]))
        return ("[patient]\nid = " + "[" * depth + "]" * depth + "\n").encode()
    doc = _default_settings()
    for _ in range(draw(st.integers(1, 3))):
        sec = draw(st.sampled_from(SECTIONS + ["nope"]))
        key = draw(st.one_of(st.sampled_from(sorted(doc.get(sec, {"x": 0}))), TEXT))
        doc.setdefault(sec, {})[key] = draw(VALUES)
    lines = []
    for sec, table in doc.items():
        lines.append(f"[{sec}]")
        lines += [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _out_path(world: World, draw, own_input: Path | None = None) -> str:
    """Where a fuzzed command writes: new, an earlier output, a file where a folder is
    wanted, a folder, a missing folder, a full device, nothing; the input only if a
    command must refuse it."""
    return draw(st.sampled_from([
        str(world.out / "new.npz"), str(world.earlier), str(world.a_file), str(world.out),
        str(world.out / "deep" / "er" / "x.npz"), "/dev/full", ""]
        + ([str(own_input)] if own_input is not None else [])))


def run_writing(world: World, argv: list[str], target: str) -> tuple[int, str]:
    """Run ``argv``; on a refusal the file it would have written is as it was."""
    path = Path(target) if target else None
    keep = path.read_bytes() if path is not None and path.is_file() else None
    code, _, err = run_cli(argv)
    assert_outcome(code, err)
    if code == 2 and path is not None and target != "/dev/full":
        assert (path.read_bytes() if path.is_file() else None) == keep, target
    world.check()
    return code, err


# -- files ---------------------------------------------------------------------------------

@FUZZ
@given(data=settings_files(), name=st.sampled_from(["s.toml", "dir"]))
def test_settings_files(world, data, name):
    path = world.root / name
    if name == "dir":
        path.mkdir(exist_ok=True)
    else:
        path.write_bytes(data)
    code, _, err = run_cli(["patients", "--config", str(path), "--set",
                            f"data.database_url={world.url}", "--json"])
    assert_outcome(code, err)
    world.check()


@FUZZ
@given(key=st.one_of(st.sampled_from(KEYS), TEXT),
       value=st.one_of(TEXT, NUMBERS.map(str), st.sampled_from(
           ["1280.7", "1e400", "-inf", "nan", "9" * 60, "true", "", " 3 "])))
def test_set_overrides(world, key, value):
    argv = ["patients", "--set", f"data.database_url={world.url}", "--set",
            f"{key}={value}", "--json"]
    if key == "data.database_url":      # a fuzzed URL: only local files, never a server
        value = value if not value.startswith(("postgres", "mysql")) else "nosuch://"
        argv[4] = f"{key}={value}"
    code, _, err = run_cli(argv)
    assert_outcome(code, err)
    world.check()


@st.composite
def program_docs(draw) -> bytes:
    """A program as JSON: a valid one with a leaf replaced, a key dropped or added; or bytes;
    or deep nesting."""
    kind = draw(st.sampled_from(["edit", "edit", "edit", "bytes", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "deep":
        return b"[" * 100_000 + b"]" * 100_000
    doc = json.loads(json.dumps(Program(patient="P01").as_dict()))
    for _ in range(draw(st.integers(1, 3))):
        node, path = doc, []
        while isinstance(node, (dict, list)) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict)
                                       else range(len(node))))
            path.append((node, key))
            node = node[key]
        target, key = path[-1] if path else (doc, draw(TEXT))
        action = draw(st.sampled_from(["replace", "drop", "add"]))
        if action == "drop" and isinstance(target, dict):
            target.pop(key, None)
        elif action == "add" and isinstance(target, dict):
            target[draw(TEXT)] = draw(VALUES)
        else:
            target[key] = json.loads(json.dumps(draw(VALUES), default=str))
    return json.dumps(doc, default=str).encode()


@FUZZ
@given(data=program_docs())
def test_program_files(world, data):
    path = world.root / "program.json"
    path.write_bytes(data)
    try:
        load_program(path)
    except VrgmiError as exc:
        assert_one_line(exc)
    world.check()


@FUZZ
@given(data=st.one_of(
    st.lists(st.one_of(st.tuples(NUMBERS, st.one_of(st.sampled_from(ACTIONS), TEXT))
                       .map(list), VALUES), max_size=4).map(lambda v: json.dumps(
                           v, default=str).encode()),
    st.binary(max_size=100), st.just(b"[" * 100_000 + b"]" * 100_000)))
def test_script_files(world, data):
    path = world.root / "script.json"
    path.write_bytes(data)
    try:
        load_input_script(path)
    except VrgmiError as exc:
        assert_one_line(exc)
    world.check()


@st.composite
def replay_files(draw, world: World) -> bytes:
    """The stored replay with one change: a key dropped or added, a dtype or shape changed,
    NaN / inf / out-of-range values, a pickled array; or truncated or random bytes."""
    kind = draw(st.sampled_from(["edit", "edit", "edit", "truncate", "bytes"]))
    raw = world.replay.read_bytes()
    if kind == "truncate":
        return raw[:draw(st.integers(0, len(raw) - 1))]
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    with np.load(world.replay) as npz:
        arrays = {k: npz[k] for k in npz.files}
    key = draw(st.sampled_from(sorted(arrays) + sorted(set(_SPECS) - set(arrays))))
    change = draw(st.sampled_from(["drop", "dtype", "shape", "values", "object", "new"]))
    a = arrays.get(key, np.zeros(len(arrays["t"])))
    if change == "drop":
        arrays.pop(key, None)
    elif change == "dtype":
        arrays[key] = a.astype(draw(st.sampled_from(["f4", "i4", "?", "U3", "c8"])))
    elif change == "shape":
        arrays[key] = a[: draw(st.integers(0, len(a)))] if draw(st.booleans()) \
            else np.reshape(a, (-1,))
    elif change == "values":
        b = np.array(a, dtype=np.float64)
        if b.size:
            b.flat[draw(st.integers(0, b.size - 1))] = draw(NUMBERS.map(float))
        arrays[key] = b.astype(a.dtype) if a.dtype != np.bool_ else b
    elif change == "object":
        arrays[key] = np.array([object()] * 2, dtype=object)
    else:
        arrays[draw(TEXT.filter(lambda s: s and "/" not in s and "\x00" not in s))] = a
    buf = io.BytesIO()
    try:
        np.savez(buf, **arrays)
    except (ValueError, TypeError):
        return raw
    return buf.getvalue()


@FUZZ
@given(data=st.data())
def test_replay_files(world, data):
    path = world.root / "fuzzed.npz"
    path.write_bytes(data.draw(replay_files(world)))
    out = _out_path(world, data.draw, own_input=path)
    run_writing(world, ["replay", str(path), "--dump", out], out)


# -- models --------------------------------------------------------------------------------

ARM = model_file("limbs/arm_right.glb")


@st.composite
def glb_mutations(draw) -> bytes:
    data = bytearray(ARM.read_bytes())
    json_end = 20 + int.from_bytes(data[12:16], "little")
    kind = draw(st.sampled_from(["truncate", "header", "json", "bin", "splice"]))
    if kind == "truncate":
        return bytes(data[:draw(st.integers(0, len(data) - 1))])
    lo, hi = {"header": (0, 20), "json": (20, json_end), "bin": (json_end, len(data)),
              "splice": (0, len(data))}[kind]
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(lo, hi - 1))
        data[at] = draw(st.integers(0, 255))
    if kind == "splice":
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


def test_model_files(tmp_path):
    """Damaged models are one line from the checker; those it lets through load in the real
    rig (in a child process: a crash there must fail the test, not end the run)."""
    passed: list[str] = []

    @FUZZ
    @given(data=glb_mutations())
    def check(data):
        path = tmp_path / f"m{len(passed)}-{abs(hash(data)) % 10 ** 8}.glb"
        path.write_bytes(data)
        try:
            check_glb(path)
        except GlbError as exc:
            assert_one_line(exc, limit=193 - len("limb model damaged: ; reinstall vrgmi"))
            return
        passed.append(str(path))

    check()
    code = """
import sys
from vrgmi.render import rig
from vrgmi.render.display import open_display
display = open_display("headless", size=(64, 64))
for path in sys.argv[1:]:
    try:
        rig._load_limb(path)
        print("OK", path)
    except rig.RigError as exc:
        print("ERR", exc)
"""
    done = subprocess.run([sys.executable, "-c", code, *passed], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("\n") == len(passed) and "Traceback" not in done.stderr


# -- the command line ----------------------------------------------------------------------

@st.composite
def command_lines(draw, world: World) -> list[str]:
    """One command with fuzzed options; the commands whose valid form would run a whole
    session or render (run, demo, session) get values that must be refused."""
    cmd = draw(st.sampled_from(["record", "replay", "export", "patients", "scenes", "demo",
                                "run", "session"]))
    num = st.one_of(NUMBERS.map(str), TEXT, st.sampled_from(["nan", "-1", "0", "1e9", "x"]))
    argv = [cmd]
    if cmd == "record":
        argv += [str(world.out / "rec.npz") if draw(st.booleans()) else _out_path(world, draw),
                 "--motion", draw(st.one_of(st.sampled_from(sorted(MOTIONS)), TEXT)),
                 "--intact", draw(st.sampled_from(["left", "right", "up"])),
                 "--seconds", draw(st.one_of(st.floats(-1, 2).map(str), num)),
                 "--rate", draw(st.one_of(st.floats(-5, 120).map(str), num))]
    elif cmd == "replay":
        argv += [str(world.replay), "--dump", _out_path(world, draw, own_input=world.replay)]
        for flag, values in (("--side", st.sampled_from(["left", "right", "up"])),
                             ("--level", st.one_of(st.sampled_from(
                                 ["transradial", "transfemoral", "partial_hand"]), TEXT)),
                             ("--height", num), ("--seed", num)):
            if draw(st.booleans()):
                argv += [flag, draw(values)]
    elif cmd == "export":
        argv += [draw(st.one_of(st.sampled_from(["P01", "NOBODY", "Zoë", ""]), TEXT)),
                 "--format", draw(st.sampled_from(["csv", "fhir", "xml"])),
                 "--out", _out_path(world, draw), "--database", world.url]
    elif cmd == "patients":
        argv += [draw(st.sampled_from(["list", "show", "delete", "drop"])),
                 draw(st.one_of(st.sampled_from(["P01", "NOBODY"]), TEXT)),
                 "--database", world.url]
        argv += ["--json"] if draw(st.booleans()) else []
    elif cmd == "scenes":
        argv += ["--json"] if draw(st.booleans()) else []
    elif cmd == "demo":
        argv += ["--frames", draw(st.sampled_from(["0", "-1", "1000001", "x", "1.5"]))]
    elif cmd == "run":
        argv += ["--seconds", draw(st.sampled_from(["0", "-1", "nan", "inf", "1e9", "x"]))]
    else:
        argv += draw(st.sampled_from([["--block-seconds", "0.1"], ["--block-seconds", "nan"],
                                      ["--out", str(world.a_file)], ["--headless", "--desktop"],
                                      ["--script", str(world.root)]]))
    if cmd not in ("scenes",) and draw(st.booleans()):
        argv += ["--set", f"{draw(st.sampled_from(KEYS))}={draw(num)}"]
    if cmd not in ("export", "patients", "scenes"):
        argv += ["--set", f"data.database_url={world.url}"]
    return argv


@FUZZ
@given(data=st.data())
def test_command_lines(world, data):
    argv = data.draw(command_lines(world))
    target = next((argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--dump", "--out")),
                  argv[1] if argv[0] == "record" else "")
    run_writing(world, argv, target if argv[0] != "export" or argv[2:3] != ["csv"] else "")
