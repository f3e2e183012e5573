"""The companion's research line (docs/research.md): LSL on, off or unavailable, the outlets
and the phantom's drive stream (connected, fading, lost) as a real session publishes them,
read through the companion's API; and the page's line in headless Chromium, adversarial
values included. LSL on the loopback only (tests/lsl_loopback.py)."""
from __future__ import annotations

import http.client
import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.lsl_loopback import loopback

loopback()          # before any LSL object exists in this process

import pylsl  # noqa: E402

from vrgmi.app import Engine  # noqa: E402
from vrgmi.companion import Companion  # noqa: E402
from vrgmi.control import CommandQueue, EngineStatus, StatusBoard  # noqa: E402
from vrgmi.program import Program, SceneStep  # noqa: E402
from vrgmi.research import lsl as lsl_loader  # noqa: E402
from vrgmi.research.outlets import LIMB_STREAM, MARKER_STREAM  # noqa: E402
from vrgmi.scenes.free_mirror import FreeMirror  # noqa: E402
from vrgmi.scenes.nrs import PainNRS  # noqa: E402
from vrgmi.session import SessionRunner  # noqa: E402
from vrgmi.settings import load_settings  # noqa: E402
from vrgmi.tracking.scripted import ScriptedSource  # noqa: E402

REGISTRY = {c.name: c for c in (PainNRS, FreeMirror)}
SCRIPTED = ["ui.instructions=false", "safety.ssq_baseline=false"]
MIRROR = {"mirror": [SceneStep("free_mirror", 1.0)]}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def companion():
    board = StatusBoard()
    server = Companion(board, CommandQueue(), port=0, scenes={})
    server.start()
    yield server
    server.stop()


def _token(server: Companion) -> str:
    pairing, _link = server.pairing()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/api/pair", json.dumps({"token": pairing, "label": "pytest"}),
                 {"Content-Type": "application/json"})
    return json.loads(conn.getresponse().read())["token"]


def _research(server: Companion, token: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/status", headers={"Authorization": f"Bearer {token}"})
    reply = conn.getresponse()
    assert reply.status == 200
    return json.loads(reply.read())["status"]["research"]


def test_the_companion_shows_the_outlets_and_the_drive_stream_connected_fading_lost(
        display, tmp_path, companion):
    stream = f"emg-companion-{time.monotonic_ns()}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo(stream, "EMG", 1, 100.0, pylsl.cf_float32,
                                                 stream))
    settings = load_settings(None, SCRIPTED + [
        "lsl.enabled=true", f"lsl.drive_stream={stream}", "lsl.grip_channel=0",
        "lsl.drive_fade_s=0.2", "lsl.drive_timeout_s=0.1"])
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    runner = SessionRunner(engine, Program("p01", phase="mirror", steps=MIRROR), tmp_path,
                           CommandQueue(), companion.board, registry=REGISTRY)
    token = _token(companion)
    k, dt = 0, 0.01

    def frame(push: bool) -> dict:
        nonlocal k
        if push:
            outlet.push_sample([0.5])
        runner.step(k * dt, dt, render=False)
        k += 1
        time.sleep(dt)
        return _research(companion, token)

    try:
        seen = [frame(False)]
        assert seen[0]["lsl"] == "on" and seen[0]["drive"]["state"] == "waiting"
        assert [o["name"] for o in seen[0]["outlets"]] == [MARKER_STREAM, LIMB_STREAM]
        end = time.monotonic() + 5.0
        while seen[-1]["drive"]["state"] != "connected":
            assert time.monotonic() < end, "the drive stream never connected"
            seen.append(frame(True))
        assert "fading_in" in [r["drive"]["state"] for r in seen]
        now = seen[-1]
        assert now["drive"] == {"stream": stream, "state": "connected", "presence": 1.0,
                                "dofs": ["grip"]}
        assert now["outlets"][1]["sent"] > 0                   # the limbs, every frame
        states = [frame(False)["drive"]["state"] for _ in range(60)]   # the stream stops
        assert states[-1] == "lost" and "fading" in states
        first_fading = states.index("fading")
        assert states[first_fading:] == sorted(states[first_fading:], key=["fading",
                                                                             "lost"].index)
        assert set(states[:first_fading]) <= {"connected"}
    finally:
        runner.close()
        engine.close()


def test_the_companion_shows_lsl_off_and_unavailable(display, tmp_path, companion,
                                                     monkeypatch):
    token = _token(companion)
    engine = Engine(load_settings(None, SCRIPTED), ScriptedSource("reach"), display)
    runner = SessionRunner(engine, Program("p01", phase="mirror", steps=MIRROR), tmp_path,
                           CommandQueue(), companion.board, registry=REGISTRY)
    try:
        runner.step(0.0, 1 / 90, render=False)
        assert _research(companion, token) == {"lsl": "off", "outlets": [], "drive": None}
    finally:
        runner.close()
        engine.close()
    monkeypatch.setitem(sys.modules, "pylsl", None)          # as if it were not installed
    monkeypatch.setattr(lsl_loader, "_pylsl", None)
    monkeypatch.setattr(lsl_loader, "_error", None)
    engine = Engine(load_settings(None, SCRIPTED + ["lsl.enabled=true"]),
                    ScriptedSource("reach"), display)
    runner = SessionRunner(engine, Program("p01", phase="mirror", steps=MIRROR), tmp_path,
                           CommandQueue(), companion.board, registry=REGISTRY)
    try:
        runner.step(0.0, 1 / 90, render=False)
        research = _research(companion, token)
        assert research["lsl"] == "unavailable" and research["drive"] is None
        assert "pylsl / liblsl unavailable" in research["error"]
    finally:
        runner.close()
        engine.close()


#: what the page must show for each research value; the odd ones must not break it
PAGE_CASES = [
    ({"lsl": "off", "outlets": [], "drive": None}, "LSL off"),
    ({"lsl": "on", "outlets": [{"name": MARKER_STREAM, "sent": 12},
                               {"name": LIMB_STREAM, "sent": 3400}],
      "drive": {"stream": "EMG-decoder", "state": "fading", "presence": 0.4,
                "dofs": ["grip"]}},
     f"LSL on; {MARKER_STREAM} 12 sent, {LIMB_STREAM} 3400 sent; "
     "drive EMG-decoder: lost, fading to the mirror (40 %)"),
    ({"lsl": "on", "outlets": "x", "drive": {"stream": "<img src=x onerror=alert(1)>",
                                              "state": "__proto__", "presence": "1"}},
     "LSL on; drive <img src=x onerror=alert(1)>: -"),
    ({"lsl": ["on"], "drive": 7}, "-"),
    ({"lsl": "on", "outlets": [None, 3, {"name": 5}, {"name": "m", "sent": {"x": 1}}],
      "drive": {"state": ["connected"], "presence": None}}, "LSL on; m ? sent; drive ?: -"),
    ({"lsl": "constructor"}, "-"),
    ({}, "-"),
]


def test_the_page_shows_the_research_line_whatever_the_values(companion):
    from playwright.sync_api import expect, sync_playwright
    shots = Path(os.environ.get("VRGMI_COMPANION_SHOTS", "")) if \
        os.environ.get("VRGMI_COMPANION_SHOTS") else None
    pairing, _link = companion.pairing()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("dialog", lambda dialog: errors.append(f"dialog {dialog.message}"))
            page.goto(companion.url + "/")
            page.fill("#token", pairing)
            page.click("button[type=submit]")
            expect(page.locator("#link")).to_have_text("connected")
            for i, (research, text) in enumerate(PAGE_CASES):
                companion.board.publish(EngineStatus(state="running", patient=f"P{i:02d}",
                                                     research=research))
                expect(page.locator("#patient")).to_have_text(f"P{i:02d}")
                expect(page.locator("#research")).to_have_text(text)
                if i == 1 and shots is not None:
                    shots.mkdir(parents=True, exist_ok=True)
                    page.locator("#research").scroll_into_view_if_needed()
                    page.screenshot(path=str(shots / "companion-research.png"))
            assert errors == []
            assert page.locator("#research img").count() == 0
        finally:
            browser.close()
