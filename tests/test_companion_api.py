"""The companion's HTTP and WebSocket API against a real server thread and a real records
database: everything needs a token; hosts, origins, sizes, values and rates are checked;
nothing rejected ever reaches the frame loop's command queue; every command is audited."""
import asyncio
import http.client
import io
import json
import time
import zipfile

import aiohttp
import numpy as np
import pytest

from records_data import fill_history
from vrgmi.companion import Companion
from vrgmi.companion.records import DatabaseRecords
from vrgmi.control import CommandQueue, EngineStatus, StatusBoard
from vrgmi.records import RecordSink, open_database
from vrgmi.program import Program
from vrgmi.records.programs import load_program, save_program
from vrgmi.records.queries import delete_patient, list_commands, list_notes, upsert_patient
from vrgmi.scenes.base import Scene
from vrgmi.scenes.schema import Param


class TurnTest(Scene):
    """A laterality-like schema: every kind of parameter."""

    name = "turn_test"
    phase = "laterality"
    params = (Param("max_rotation_deg", "int", 90, "largest rotation shown", 0, 180, unit="deg"),
              Param("exposure_s", "float", 2.0, "how long a picture shows", 0.2, 10.0, unit="s"),
              Param("view", "choice", "back", "which side of the hand", choices=("back", "palm")),
              Param("mixed_axes", "bool", False, "rotate about more than one axis"))

    def update(self, frame, dt):
        pass


SCENES = {"turn_test": TurnTest.describe(),
          "free_mirror": {"name": "free_mirror", "params": []}}


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('rec') / 'r.sqlite3'}")
    sink = RecordSink(db)
    fill_history(sink, "P01", 4)
    sink.close()
    yield db
    db.close()


@pytest.fixture(scope="module")
def server(records):
    board = StatusBoard()
    board.publish(EngineStatus(state="running", scene="turn_test", patient="P01",
                               session="P01-s04", schema=[p.describe() for p in TurnTest.params],
                               params={p.name: p.default for p in TurnTest.params}))
    companion = Companion(board, CommandQueue(), records=DatabaseRecords(records), port=0,
                          scenes=SCENES, pair_rate=(1000.0, 1000.0), command_rate=(10.0, 20.0))
    companion.start()
    yield companion
    companion.stop()


@pytest.fixture
def token(server):
    pairing, _link = server.pairing()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/api/pair", json.dumps({"token": pairing, "label": "pytest"}),
                 {"Content-Type": "application/json"})
    reply = conn.getresponse()
    assert reply.status == 200
    return json.loads(reply.read())["token"]


def request(server, method, path, body=None, token=None, headers=None):
    """(status, headers, body bytes) of one raw request (the path is sent as written)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body, h)
    reply = conn.getresponse()
    return reply.status, dict(reply.getheaders()), reply.read()


def command(server, token, cmd, **args):
    return request(server, "POST", "/api/command", {"command": cmd, "args": args}, token)


ROUTES = [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/ws"), ("GET", "/api/status"),
          ("GET", "/api/view.jpg"), ("GET", "/api/scenes"), ("POST", "/api/command"),
          ("GET", "/api/tokens"), ("POST", "/api/tokens/0123abcd/revoke"),
          ("POST", "/api/pairing"), ("GET", "/api/audit"), ("GET", "/api/patients"),
          ("GET", "/api/patients/P01"), ("GET", "/api/patients/P01/plots/nrs.png"),
          ("POST", "/api/patients/P01/notes"), ("GET", "/api/patients/P01/export/csv"),
          ("POST", "/api/patients/P01/step_back")]


def test_every_route_needs_a_valid_token(server, token):
    for method, path in ROUTES:
        body = {"command": "pause"} if method == "POST" else None
        for bad in (None, "not-a-token", token[:-2] + "xx"):
            status, _h, text = request(server, method, path, body, bad)
            assert status == 401, (method, path, bad, status)
            assert b"P01" not in text
    assert server.commands.drain() == []


def test_revoked_token_is_refused(server, token):
    assert request(server, "GET", "/api/status", token=token)[0] == 200
    status, _h, body = request(server, "GET", "/api/tokens", token=token)
    me = json.loads(body)["you"]
    assert me in [t["id"] for t in json.loads(body)["tokens"]]
    assert request(server, "POST", f"/api/tokens/{me}/revoke", {}, token)[0] == 200
    assert request(server, "GET", "/api/status", token=token)[0] == 401
    assert command(server, token, "pause")[0] == 401
    assert server.commands.drain() == []


def test_foreign_host_and_origin_are_refused(server, token):
    port = server.port
    assert request(server, "GET", "/api/status", token=token,
                   headers={"Host": f"evil.example:{port}"})[0] == 421      # DNS rebinding
    assert request(server, "GET", "/api/status", token=token,
                   headers={"Host": "127.0.0.1:1"})[0] == 421
    status, _h, _b = request(server, "POST", "/api/command", {"command": "pause"}, token,
                             {"Origin": "http://evil.example"})
    assert status == 403
    assert server.commands.drain() == []


def test_security_headers(server, token):
    _s, headers, _b = request(server, "GET", "/api/status", token=token)
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["Cache-Control"] == "no-store"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_commands_checked_against_the_scene_schema(server, token):
    server.commands.drain()
    rejected = [
        ("set_param", {"name": "max_rotation_deg", "value": 181}, "out of range 0..180"),
        ("set_param", {"name": "max_rotation_deg", "value": 12.5}, "whole number"),
        ("set_param", {"name": "exposure_s", "value": "fast"}, "must be a number"),
        ("set_param", {"name": "view", "value": "side"}, "not one of back, palm"),
        ("set_param", {"name": "mixed_axes", "value": "maybe"}, "true or false"),
        ("set_param", {"name": "speed", "value": 1}, "no difficulty setting 'speed'"),
        ("set_param", {"name": "view"}, "missing value"),
        ("switch_scene", {"scene": "../../etc"}, "no scene"),
        ("set_patient", {"level": "knee"}, "not one of"),
        ("set_patient", {"height_m": 3.0}, "out of range 1.2..2.2"),
        ("skin_tone", {"tone": "green"}, "not a Fitzpatrick type"),
        ("gate_override", {"phase": "mirror", "advance": "yes", "reason": "x"}, "true or false"),
        ("pause", {"now": True}, "unexpected argument"),
        ("explode", {}, "unknown command"),
    ]
    for name, args, why in rejected:
        status, _h, body = request(server, "POST", "/api/command",
                                   {"command": name, "args": args}, token)
        assert status == 400 and why in json.loads(body)["error"], (name, args, body)
    assert server.commands.drain() == []
    accepted = [("set_param", {"name": "max_rotation_deg", "value": "120"}),
                ("set_param", {"name": "mixed_axes", "value": True}),
                ("switch_scene", {"scene": "free_mirror"}),
                ("set_patient", {"side": "right", "level": "transtibial"}),
                ("skin_tone", {"tone": "V"}), ("emergency_stop", {})]
    for name, args in accepted:
        status, _h, body = request(server, "POST", "/api/command",
                                   {"command": name, "args": args}, token)
        assert status == 202, body
    queued = server.commands.drain()
    assert [(c.name, c.args) for c in queued] == [
        ("set_param", {"name": "max_rotation_deg", "value": 120}),      # coerced to int
        ("set_param", {"name": "mixed_axes", "value": True}),
        ("switch_scene", {"scene": "free_mirror"}),
        ("set_patient", {"side": "right", "level": "transtibial"}),
        ("skin_tone", {"tone": "V"}), ("emergency_stop", {})]
    assert all(c.by.startswith("companion:") for c in queued)


def test_malformed_and_oversized_requests(server, token):
    server.commands.drain()
    assert request(server, "POST", "/api/command", b"{not json", token,
                   {"Content-Type": "application/json"})[0] == 400
    assert request(server, "POST", "/api/command", [1, 2], token)[0] == 400
    assert request(server, "POST", "/api/command", {"command": 5}, token)[0] == 400
    assert request(server, "POST", "/api/command", {"command": "pause", "args": [1]},
                   token)[0] == 400
    big = {"command": "set_param", "args": {"name": "view", "value": "x" * 20000}}
    assert request(server, "POST", "/api/command", big, token)[0] == 413
    assert server.commands.drain() == []


def test_path_traversal_in_static_and_export_routes(server, token):
    for path in ("/static/../server.py", "/static/..%2fserver.py", "/static/%2e%2e%2fauth.py",
                 "/static/..%5cauth.py", "/static/app.js%00.png", "/static/server.py",
                 "/static/.%2e/records.py", "/api/patients/..%2f..%2fetc/export/csv",
                 "/api/patients/P01/export/..%2f..%2fpasswd", "/api/patients/P01/export/sh",
                 "/api/patients/%2e%2e/plots/nrs.png", "/api/patients/P01/plots/..%2fx.png",
                 "/api/patients/P01%00/export/csv"):
        status, _h, body = request(server, "GET", path, token=token)
        assert status in (400, 404), (path, status)
        assert b"import" not in body and b"root:" not in body, path
    assert request(server, "GET", "/static/app.js", token=token)[0] == 200


def test_rate_limit_and_audit(server, token, records):
    server.commands.drain()
    # bursts of 20, then 10/s: send until refused (a slow machine refills more on the way)
    codes: list[int] = []
    start = time.monotonic()
    while codes[-1:] != [429] and len(codes) < 600:
        codes.append(command(server, token, "recenter")[0])
    elapsed = time.monotonic() - start
    assert codes[:20] == [202] * 20 and codes[-1] == 429
    assert codes.count(202) <= 20 + 10.0 * elapsed + 1
    assert len(server.commands.drain()) == codes.count(202)
    time.sleep(0.3)                                            # the bucket refills
    assert command(server, token, "set_param", name="max_rotation_deg", value=999)[0] == 400
    assert server.audit.flush(10.0)
    rows = list_commands(records, limit=200)
    mine = [r for r in rows if r["command"] in ("recenter", "set_param")]
    assert sum(r["accepted"] for r in mine if r["command"] == "recenter") == codes.count(202)
    limited = [r for r in mine if r["reason"].startswith("rate limited")]
    assert 1 <= len(limited) <= 3 and not any(r["accepted"] for r in limited)  # folded
    assert sum(_times(r["reason"]) for r in limited) == codes.count(429)      # and counted
    bad = next(r for r in mine if r["command"] == "set_param")
    assert not bad["accepted"] and "out of range" in bad["reason"]
    assert bad["args"] == {"name": "max_rotation_deg", "value": 999}
    assert bad["patient"] == "P01" and bad["by"].startswith("companion:")
    assert server.commands.drain() == []


def _times(reason: str) -> int:
    """How many rejections one folded audit row stands for."""
    return int(reason.split("(")[1].split()[0]) if "times" in reason else 1


def test_safety_commands_pain_check_step_back_and_start_override(server, token, records):
    server.commands.drain()
    for name, args, why in [("step_back", {"phase": "mirror"}, "missing reason"),
                            ("step_back", {"phase": "laterality", "reason": "x"}, "first phase"),
                            ("step_back", {"phase": "dance", "reason": "x"}, "must be one of"),
                            ("start", {"patient": "P01", "override": "yes"}, "true or false"),
                            ("pain_check", {"now": True}, "unexpected argument")]:
        status, _h, body = command(server, token, name, **args)
        assert status == 400 and why in json.loads(body)["error"], (name, args, body)
    assert server.commands.drain() == []
    for name, args in [("pain_check", {}), ("step_back", {"phase": "mirror", "reason": "flare"}),
                       ("start", {"patient": "P01", "override": True}),
                       ("recenter", {"source": "companion"})]:
        assert command(server, token, name, **args)[0] == 202
    assert [(c.name, c.args) for c in server.commands.drain()] == [
        ("pain_check", {}), ("step_back", {"phase": "mirror", "reason": "flare"}),
        ("start", {"patient": "P01", "override": True}), ("recenter", {"source": "companion"})]


@pytest.fixture
def p03(records):
    """A patient of their own in imagery (removed afterwards: the records are shared)."""
    upsert_patient(records, "P03")
    save_program(records, Program("P03", phase="imagery"))
    yield "P03"
    delete_patient(records, "P03")


def test_step_back_route_changes_the_records_or_asks_the_running_session(server, token,
                                                                         records, p03):
    status, _h, body = request(server, "POST", "/api/patients/P03/step_back", {}, token)
    assert status == 400 and b"needs a reason" in body
    status, _h, body = request(server, "POST", "/api/patients/P03/step_back",
                               {"reason": "pain flare on Monday"}, token)
    assert status == 200 and json.loads(body) == {"patient": "P03", "phase": "laterality"}
    saved = load_program(records, "P03")
    assert saved.phase == "laterality" and saved.overrides[-1]["reason"] == "pain flare on Monday"
    assert saved.overrides[-1]["by"].startswith("companion:")
    status, _h, body = request(server, "POST", "/api/patients/P03/step_back",
                               {"reason": "again"}, token)
    assert status == 400 and b"first phase" in body
    assert server.commands.drain() == []
    # the patient of the running session: the session takes it as a command
    _seq, before = server.board.status()
    server.board.publish(EngineStatus(**{**before, "phase": "imagery"}))
    try:
        status, _h, body = request(server, "POST", "/api/patients/P01/step_back",
                                   {"reason": "flare"}, token)
        assert status == 202
        (queued,) = server.commands.drain()
        assert (queued.name, queued.args) == ("step_back", {"phase": "imagery",
                                                            "reason": "flare"})
    finally:
        server.board.publish(EngineStatus(**before))
    assert server.audit.flush(10.0)
    rows = [r for r in list_commands(records, limit=200) if r["command"] == "step_back"]
    assert sum(r["accepted"] for r in rows) >= 2 and any(not r["accepted"] for r in rows)


def test_patient_pages_plots_notes_and_exports(server, token, records):
    status, _h, body = request(server, "GET", "/api/patients", token=token)
    assert status == 200 and [p["id"] for p in json.loads(body)["patients"]] == ["P01"]
    status, _h, body = request(server, "GET", "/api/patients/P01", token=token)
    page = json.loads(body)
    assert page["patient"]["id"] == "P01" and len(page["sessions"]) == 4
    assert "laterality_accuracy" in page["plots"] or "nrs" in page["plots"]
    status, headers, png = request(server, "GET", "/api/patients/P01/plots/nrs.png", token=token)
    assert status == 200 and png[:4] == b"\x89PNG" and headers["Content-Type"] == "image/png"
    assert request(server, "GET", "/api/patients/P01/plots/nope.png", token=token)[0] == 404
    assert request(server, "GET", "/api/patients/P99", token=token)[0] == 404
    status, _h, body = request(server, "POST", "/api/patients/P01/notes",
                               {"text": "  Calmer today.  "}, token)
    assert status == 201 and json.loads(body)["text"] == "Calmer today."
    assert list_notes(records, "P01")[0]["text"] == "Calmer today."
    assert request(server, "POST", "/api/patients/P01/notes", {"text": ""}, token)[0] == 400
    status, headers, data = request(server, "GET", "/api/patients/P01/export/csv", token=token)
    assert status == 200 and headers["Content-Disposition"] == \
        'attachment; filename="vrgmi-P01.csv.zip"'
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names == ["P01-trials.csv", "P01-sessions.csv", "P01-questionnaires.csv",
                     "P01-outcomes.csv"]
    status, _h, data = request(server, "GET", "/api/patients/P01/export/fhir", token=token)
    assert status == 200 and json.loads(data)["resourceType"] == "Bundle"
    status, _h, data = request(server, "GET", "/api/patients/P01/export/pdf", token=token)
    assert status == 200 and data[:5] == b"%PDF-"


def reply_closed(out) -> bool:
    """True when the last reply was the server closing the socket."""
    last = out[-1]
    return isinstance(last, aiohttp.WSMessage) and last.type in (
        aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


def _ws(server, token, origin, messages):
    """Connect, read the first status, send ``messages``; returns what came back."""
    async def run():
        out = []
        headers = {"Authorization": f"Bearer {token}"}
        if origin:
            headers["Origin"] = origin
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"ws://127.0.0.1:{server.port}/ws", headers=headers,
                                          max_msg_size=0)
            out.append(json.loads((await ws.receive(timeout=5)).data))
            for m in messages:
                if isinstance(m, bytes):
                    await ws.send_bytes(m)
                else:
                    await ws.send_str(m)
                reply = await ws.receive(timeout=5)
                while reply.type == aiohttp.WSMsgType.TEXT and '"ref"' not in reply.data \
                        and json.loads(reply.data).get("type") == "status":
                    reply = await ws.receive(timeout=5)      # a live status push, not the reply
                out.append(reply)
            if reply_closed(out):
                return out                  # the server closed it: nothing left to close
            await ws.close()
        return out
    return asyncio.run(run())


def test_websocket_origin_checked(server, token):
    for origin in ("http://evil.example", None, f"http://localhost:{server.port + 1}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            _ws(server, token, origin, [])
        assert err.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        _ws(server, "wrong", f"http://127.0.0.1:{server.port}", [])
    assert err.value.status == 401


def test_websocket_commands_malformed_oversized_and_valid(server, token):
    server.commands.drain()
    origin = f"http://127.0.0.1:{server.port}"
    out = _ws(server, token, origin, [
        "{nope", b"\x00\x01", json.dumps({"command": "set_param", "ref": 7,
                                          "args": {"name": "exposure_s", "value": 0.1}}),
        json.dumps({"command": "set_param", "ref": 8,
                    "args": {"name": "exposure_s", "value": 0.5}}),
        "x" * 5000])
    status, malformed, binary, low, ok, big = out
    assert status["type"] == "status" and status["status"]["scene"] == "turn_test"
    assert "malformed" in json.loads(malformed.data)["error"]
    assert "JSON text" in json.loads(binary.data)["error"]
    low = json.loads(low.data)
    assert low["ref"] == 7 and not low["ok"] and "out of range 0.2..10" in low["error"]
    ok = json.loads(ok.data)
    assert ok["ref"] == 8 and ok["ok"]
    assert big.type == aiohttp.WSMsgType.CLOSE and big.data == 1009     # message too big
    assert [(c.name, c.args) for c in server.commands.drain()] == [
        ("set_param", {"name": "exposure_s", "value": 0.5})]


def test_websocket_streams_status_and_view(server, token):
    server.board.publish_image(b"\xff\xd8fake-jpeg\xff\xd9")

    async def run():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                    f"ws://127.0.0.1:{server.port}/ws",
                    headers={"Authorization": f"Bearer {token}",
                             "Origin": f"http://127.0.0.1:{server.port}"}) as ws:
                got = {}
                while len(got) < 2:
                    msg = await ws.receive(timeout=5)
                    got[msg.type] = msg.data
                assert server.watching == 1
                return got
    got = asyncio.run(run())
    assert got[aiohttp.WSMsgType.BINARY] == b"\xff\xd8fake-jpeg\xff\xd9"
    assert json.loads(got[aiohttp.WSMsgType.TEXT])["status"]["patient"] == "P01"
    status, headers, body = request(server, "GET", "/api/view.jpg", token=token)
    assert status == 200 and body.startswith(b"\xff\xd8") and headers["Content-Type"] == \
        "image/jpeg"


def test_live_view_shows_what_the_patient_sees_and_only_when_watched(display):
    from PIL import Image

    from vrgmi.app import Engine
    from vrgmi.companion.snapshot import LiveView
    from vrgmi.render.display import grab_rgba
    from vrgmi.settings import Settings
    from vrgmi.tracking.scripted import ScriptedSource

    engine = Engine(Settings(), ScriptedSource("reach", intact_side="right"), display)
    board = StatusBoard()
    watching = [False]
    live = LiveView(display.base, board, fps=1000.0, width=128, wanted=lambda: watching[0])
    try:
        for i in range(10):
            engine.frame(i / 90, 1 / 90)
            live.after_render()
            assert not live.capture_pending and not live.buffer.is_active()
        assert board.image() == (0, b"")                     # nobody watches: nothing made
        watching[0] = True
        for i in range(10, 14):
            engine.frame(i / 90, 1 / 90)
            live.after_render()
        deadline = time.monotonic() + 5.0
        while live.published < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        seq, jpeg = board.image()
        assert seq >= 1 and jpeg[:2] == b"\xff\xd8"
        picture = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), float)
        assert picture.shape == (128, 128, 3)                # the window's aspect (square here)
        full = grab_rgba(display.base, render=False)[..., :3]
        ref = np.asarray(Image.fromarray(full).resize((128, 128), Image.BILINEAR), float)
        assert np.abs(picture - ref).mean() < 6.0            # same view, same colours
    finally:
        live.close()
        engine.close()


# -- issue 14: the findings of the attack probe, each fixed at its root ----------------------
def _me(server, token):
    return json.loads(request(server, "GET", "/api/tokens", token=token)[2])["you"]


def _audit_rows(server, records, **match):
    assert server.audit.flush(10.0)
    return [r for r in list_commands(records, limit=1000)
            if all(r[k] == v for k, v in match.items())]


def test_revoking_a_device_closes_its_open_websocket_with_1008(server, token):
    """Finding 1: a revoked device's open socket got live status and its pause was taken."""
    server.commands.drain()
    pairing, _link = server.pairing()
    other = json.loads(request(server, "POST", "/api/pair", {"token": pairing})[2])["token"]
    victim = _me(server, token)
    origin = f"http://127.0.0.1:{server.port}"

    async def run():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"ws://127.0.0.1:{server.port}/ws", headers={
                "Authorization": f"Bearer {token}", "Origin": origin})
            assert json.loads((await ws.receive(timeout=5)).data)["type"] == "status"
            status, _h, _b = await asyncio.to_thread(
                request, server, "POST", f"/api/tokens/{victim}/revoke", {}, other)
            assert status == 200
            got = []
            while True:
                msg = await ws.receive(timeout=5)
                got.append(msg)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING):
                    break
            return got
    got = asyncio.run(run())
    assert got[-1].type == aiohttp.WSMsgType.CLOSE and got[-1].data == 1008
    assert all(m.type != aiohttp.WSMsgType.TEXT for m in got)    # no status after revoking
    assert server.commands.drain() == []


def _expiring_companion(status_hz: float) -> Companion:
    from vrgmi.companion.auth import TokenStore

    board = StatusBoard()
    board.publish(EngineStatus(state="running", scene="turn_test"))
    companion = Companion(board, CommandQueue(), port=0, scenes=SCENES,
                          tokens=TokenStore(session_ttl_s=1.0))
    companion.hub.status_hz = status_hz
    companion.start()
    return companion


async def _open_socket(session, companion, secret):
    ws = await session.ws_connect(f"ws://127.0.0.1:{companion.port}/ws", headers={
        "Authorization": f"Bearer {secret}", "Origin": f"http://127.0.0.1:{companion.port}"})
    await ws.receive(timeout=5)
    return ws


async def _until_closed(ws):
    """Every message up to the close; (the texts' refs, the close code)."""
    refs = []
    while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
        refs.append(json.loads(msg.data).get("ref"))
    assert msg.type == aiohttp.WSMsgType.CLOSE
    return refs, msg.data


def test_an_expired_token_is_refused_on_the_open_socket():
    """Finding 1: expiry was not re-checked on an open socket. Each message asks (here the
    broadcast is too slow to notice first), and the broadcast closes idle expired sockets."""
    quiet = _expiring_companion(status_hz=0.01)
    try:
        secret, _info = quiet.tokens.pair(quiet.tokens.new_pairing_token())

        async def per_message():
            async with aiohttp.ClientSession() as session:
                ws = await _open_socket(session, quiet, secret)
                await ws.send_str(json.dumps({"command": "pause", "ref": 1}))
                first = json.loads((await ws.receive(timeout=5)).data)
                await asyncio.sleep(1.2)                      # the token expires
                await ws.send_str(json.dumps({"command": "resume", "ref": 2}))
                return first, await _until_closed(ws)
        first, (refs, code) = asyncio.run(per_message())
        assert first["ok"] and 2 not in refs and code == 1008
        assert [c.name for c in quiet.commands.drain()] == ["pause"]     # resume never queued
    finally:
        quiet.stop()
    live = _expiring_companion(status_hz=5.0)
    try:
        secret, _info = live.tokens.pair(live.tokens.new_pairing_token())

        async def idle():
            async with aiohttp.ClientSession() as session:
                ws = await _open_socket(session, live, secret)
                return await _until_closed(ws)              # sends nothing; expires in 1 s
        _refs, code = asyncio.run(idle())
        assert code == 1008 and live.watching == 0
    finally:
        live.stop()


def test_a_patient_id_with_a_newline_touches_nothing(server, token, records):
    """Finding 2: "P-nl\\n" was accepted by start, created in the records and broke export."""
    from vrgmi.companion.server import download_disposition
    from vrgmi.errors import VrgmiError
    from vrgmi.records.queries import list_patients

    server.commands.drain()
    status, _h, body = command(server, token, "start", patient="P-nl\n")
    assert status == 400 and "patient id" in json.loads(body)["error"]
    assert server.commands.drain() == []
    assert "P-nl\n" not in [p["id"] for p in list_patients(records)]
    for path in ("/api/patients/P-nl%0A/export/csv", "/api/patients/P-nl%0D%0AX:%20y/export/pdf"):
        status, headers, _b = request(server, "GET", path, token=token)
        assert status == 400 and "X" not in headers
    assert download_disposition("P01", "pdf") == 'attachment; filename="vrgmi-P01.pdf"'
    for pid, suffix in (("P-nl\n", "pdf"), ('P"; x', "pdf"), ("P01", "sh")):
        with pytest.raises(VrgmiError):
            download_disposition(pid, suffix)


def test_difficulty_values_must_be_finite():
    """Finding 3: int() of NaN or infinity raised before the bounds were checked."""
    from vrgmi.scenes.schema import SceneParamError

    rotation, exposure = TurnTest.params[0], TurnTest.params[1]
    for param in (rotation, exposure):
        for value in (float("nan"), float("inf"), -float("inf"), "1e999", "nan", 10 ** 400,
                      10 ** 5000):
            with pytest.raises(SceneParamError) as err:
                param.check(value, "turn_test")
            assert "\n" not in str(err.value) and len(str(err.value)) < 200


def test_non_finite_numbers_and_deep_json_are_one_line_400s(server, token, records):
    """Finding 3: NaN, +-Infinity, 1e999 and JSON nested 15,000 deep gave 500 without the
    security headers and a traceback; over the WebSocket they dropped the socket."""
    server.commands.drain()
    bodies = [b'{"command":"set_param","args":{"name":"max_rotation_deg","value":%s}}' % v
              for v in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999")]
    bodies += [b"[" * 15000 + b"]" * 15000, b'{"a":' * 3000 + b"1" + b"}" * 3000]
    status, headers, _b = request(server, "POST", "/api/patients/P01/notes",
                                  b'{"text":"\\ud800"}', token,
                                  {"Content-Type": "application/json"})   # a lone surrogate
    assert status == 400 and headers["X-Frame-Options"] == "DENY"
    for raw in bodies:
        status, headers, body = request(server, "POST", "/api/command", raw, token,
                                        {"Content-Type": "application/json"})
        assert status in (400, 413), (raw[:40], status)
        assert headers["X-Frame-Options"] == "DENY" and "\n" not in json.loads(body)["error"]
    origin = f"http://127.0.0.1:{server.port}"
    out = _ws(server, token, origin, ['{"command":"set_param","args":{"name":"exposure_s",'
                                      '"value":NaN}}', "[" * 4000 + "]" * 0,
                                      '{"command":"set_param","args":{"name":"max_rotation_deg",'
                                      '"value":1e999}}',
                                      json.dumps({"command": "pause", "ref": 3})])
    replies = [json.loads(m.data) for m in out[1:]]
    assert [r["ok"] for r in replies] == [False, False, False, True]   # the socket lives on
    assert "NaN" in replies[0]["error"] and "deeper" in replies[1]["error"]
    assert [c.name for c in server.commands.drain()] == ["pause"]
    rows = _audit_rows(server, records, accepted=False)
    for row in rows[:20]:
        json.dumps(row["args"], allow_nan=False)          # finding 7: valid JSON stored


def test_a_handler_bug_is_a_500_with_headers_audited_and_no_traceback(server, token, records,
                                                                      caplog, monkeypatch):
    """Finding 3: one catch-all answers, audits, logs one line and keeps serving."""
    def broken(*_a, **_k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(server, "_submit", broken)
    caplog.set_level("DEBUG", "vrgmi.companion")
    status, headers, body = command(server, token, "pause")
    assert status == 500 and headers["Content-Security-Policy"]
    assert json.loads(body)["error"] == "companion: internal error (ZeroDivisionError)"
    assert all(r.exc_info is None and "Traceback" not in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    assert command(server, token, "pause")[0] == 202
    rows = _audit_rows(server, records, command="command")
    assert rows and rows[0]["reason"].endswith("(ZeroDivisionError)")
    server.commands.drain()


def test_pairing_abuse_from_one_address_does_not_stop_another(server):
    """Finding 4: ten wrong guesses from anywhere burned the token on the screen."""
    pairing, _link = server.pairing()
    for _ in range(12):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10,
                                          source_address=("127.0.0.2", 0))
        conn.request("POST", "/api/pair", json.dumps({"token": "AAAA-AAAA-AAAA"}),
                     {"Content-Type": "application/json"})
        assert conn.getresponse().status == 403
    assert request(server, "GET", f"/pair?token={pairing}")[0] == 200   # GET pairs nothing
    status, _h, body = request(server, "POST", "/api/pair", {"token": pairing, "label": "ipad"})
    assert status == 200 and json.loads(body)["label"] == "ipad"


def test_audit_names_the_device_and_covers_pairing_notes_and_reads(server, records):
    """Finding 5: pairing, new pairing tokens, notes and reads of patient data left no row;
    rows named only the device id."""
    pairing, _link = server.pairing()
    status, _h, body = request(server, "POST", "/api/pair", {"token": pairing,
                                                             "label": "ward tablet"})
    tablet = json.loads(body)
    mine = f"companion:{tablet['id']} (ward tablet)"
    secret = tablet["token"]
    for method, path, body in [("GET", "/api/patients", None), ("GET", "/api/patients/P01", None),
                               ("GET", "/api/patients/P01/plots/nrs.png", None),
                               ("GET", "/api/patients/P01/export/fhir", None),
                               ("POST", "/api/patients/P01/notes", {"text": "slept well"}),
                               ("POST", "/api/pairing", {})]:
        assert request(server, method, path, body, secret)[0] in (200, 201), path
    rows = _audit_rows(server, records, by=mine)
    assert sorted(r["command"] for r in rows) == sorted(
        ["pair", "read_patients", "read_patient", "read_plot", "export", "add_note",
         "new_pairing"])
    assert all(r["accepted"] for r in rows)
    assert {r["patient"] for r in rows if r["command"] in ("read_plot", "export")} == {"P01"}
    assert "slept well" not in json.dumps([r["args"] for r in rows])   # notes stay in notes


def test_a_flood_is_one_audit_row_and_the_socket_is_closed(server, token, records):
    """Finding 5: 5,000 rate-limited commands wrote 5,000 rows through an unbounded queue."""
    from vrgmi.companion.server import WS_STRIKES

    server.commands.drain()
    me = _me(server, token)
    origin = f"http://127.0.0.1:{server.port}"

    async def run():
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"ws://127.0.0.1:{server.port}/ws", headers={
                "Authorization": f"Bearer {token}", "Origin": origin})
            sent = 0
            for _ in range(500):
                try:
                    await ws.send_str('{"command":"recenter"}')
                    sent += 1
                except ConnectionResetError:
                    break
            while (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
                pass
            return sent, ws.close_code
    sent, code = asyncio.run(run())
    assert code == 1008                                   # kept hitting the limit
    accepted = len(server.commands.drain())
    rows = _audit_rows(server, records, command="recenter")
    mine = [r for r in rows if r["by"].startswith(f"companion:{me} ")]
    limited = [r for r in mine if not r["accepted"]]
    assert len(limited) <= 3 and sum(r["accepted"] for r in mine) == accepted
    counted = sum(_times(r["reason"]) for r in limited)
    assert counted >= WS_STRIKES                          # every rejection is counted


def test_json_only_posts_and_no_versions_in_the_server_header(server, token):
    """Finding 7: POSTs were taken with any Content-Type; Server named Python and aiohttp."""
    server.commands.drain()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        status, headers, _b = request(server, "POST", "/api/command", b'{"command":"pause"}',
                                      token, {"Content-Type": kind})
        assert status == 415 and headers["Cache-Control"] == "no-store"
    assert server.commands.drain() == []
    for path in ("/api/status", "/pair", "/nope"):
        _s, headers, _b = request(server, "GET", path, token=token)
        assert headers["Server"] == "vrgmi-companion", path
