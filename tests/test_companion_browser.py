"""The companion in a real browser (Debian's Chromium driven by Playwright, never a downloaded
browser) against a real engine and session runner on the headless display.

The frame loop runs on this (main) thread at about 60 Hz; the browser runs on a worker
thread. Every command records when it was queued and every frame when it began, so the test
counts the frames between a command's arrival and the engine's change of state.
Screenshots go to ``$VRGMI_COMPANION_SHOTS`` (default: the test's tmp folder).
"""
import os
import re
import threading
import time
from pathlib import Path

import pytest

from records_data import SEED0, fill_history
from vrgmi.app import Engine
from vrgmi.companion import Companion
from vrgmi.companion.records import DatabaseRecords
from vrgmi.companion.snapshot import LiveView
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.program import Program, SceneStep, default_steps
from vrgmi.records import RecordSink, open_database
from vrgmi.records.queries import set_program
from vrgmi.scenes.breathing import CalmView
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.scenes.nrs import PainNRS
from vrgmi.session import SessionRunner
from vrgmi.settings import Settings
from vrgmi.tracking.scripted import ScriptedSource

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


class TimedQueue(CommandQueue):
    """A CommandQueue that remembers when each command arrived and in which frame it left."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}
        self.drained: dict[str, int] = {}
        self.frame = 0

    def put(self, command) -> None:
        self.arrived[command.id] = time.perf_counter()
        super().put(command)

    def drain(self):
        out = super().drain()
        for c in out:
            self.drained[c.id] = self.frame
        return out


@pytest.fixture
def shots(tmp_path):
    folder = Path(os.environ.get("VRGMI_COMPANION_SHOTS", tmp_path / "shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_therapist_pairs_tunes_stops_and_reads_progress(display, tmp_path, shots):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    sink = RecordSink(db)
    fill_history(sink, "P01", 8)
    sink.close()
    set_program(db, "P01", "mirror")
    registry = {"laterality": LateralityScene, "pain_nrs": PainNRS, "calm": CalmView}
    steps = default_steps()
    steps["laterality"] = [SceneStep("laterality", 5.0)]
    program = Program(patient="P01", steps=steps, breathing_between_blocks=False)
    engine = Engine(Settings(), ScriptedSource("reach", intact_side="right"), display)
    board, queue = StatusBoard(), TimedQueue()
    runner = SessionRunner(engine, program, tmp_path / "out", queue, board, registry)
    companion = Companion(board, queue, records=DatabaseRecords(db), port=0,
                          scenes={n: c.describe() for n, c in registry.items()})
    companion.start()
    live = LiveView(display.base, board, fps=6.0, wanted=lambda: companion.watching > 0)
    pairing, link = companion.pairing()
    outcome: dict = {}
    frames_at: list[float] = []         # perf_counter at the start of each frame

    def browse() -> None:
        from playwright.sync_api import expect, sync_playwright
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(companion.url + "/")                       # not paired yet
                expect(page.get_by_role("heading", name="Pair this device")).to_be_visible()
                page.fill("#token", pairing.lower())                 # typed from the screen
                page.click("button[type=submit]")
                expect(page.locator("#link")).to_have_text("connected")
                page.select_option("#scene-select", "laterality")
                page.click("#switch")
                expect(page.locator("#scene")).to_have_text("laterality")
                expect(page.locator("#liveimg")).to_have_attribute("src", re.compile("^blob:"),
                                                                   timeout=10000)
                less = page.locator(".param").filter(has_text="Rotation max") \
                    .get_by_role("button", name="less")
                less.click()
                expect(page.locator("[data-out=rotation_max_deg]")).to_have_text("179 deg")
                page.wait_for_timeout(500)
                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(path=str(shots / "companion-live.png"))
                page.click("#estop")
                expect(page.locator("#state")).to_have_text("emergency stopped")
                page.wait_for_timeout(800)                        # the calm view arrives
                page.screenshot(path=str(shots / "companion-stopped.png"))
                page.goto(companion.url + "/#/patients")
                page.get_by_role("link", name="P01").click()
                expect(page.locator("#p-title")).to_have_text("Patient P01")
                # the latest session first, its seed exact (63 bits) to replay it with --seed
                expect(page.locator("#p-sessions td.seed").first).to_have_text(str(SEED0 + 7))
                plots = page.locator("#p-plots img")
                expect(plots.first).to_be_visible()
                page.wait_for_function("() => [...document.querySelectorAll('#p-plots img')]"
                                       ".every(i => i.complete && i.naturalWidth > 300)")
                outcome["plots"] = plots.count()
                page.screenshot(path=str(shots / "companion-patient.png"), full_page=True)
                browser.close()
        except BaseException as exc:       # reported on the frame thread
            outcome["error"] = exc

    worker = threading.Thread(target=browse)
    worker.start()
    seen: dict[str, int] = {}       # first frame each observation was true
    deadline = time.monotonic() + 120.0
    frame = 0
    try:
        runner.start(0.0)
        while worker.is_alive() and time.monotonic() < deadline:
            queue.frame = frame
            frames_at.append(time.perf_counter())
            runner.step(frame / 60.0, 1 / 60.0)
            live.after_render()
            inner = runner.scene.inner if runner.scene is not None else None
            if inner is not None and inner.name == "laterality":
                seen.setdefault("laterality", frame)
                if inner.difficulty["rotation_max_deg"] == 179:
                    seen.setdefault("param", frame)
            if runner.state == "emergency_stopped" and engine.paused and engine.world.is_hidden():
                seen.setdefault("stopped", frame)
            frame += 1
            time.sleep(1 / 60.0)
        worker.join(30.0)
    finally:
        live.close()
        companion.stop()
        runner.close()
        engine.close()
        db.close()
    if "error" in outcome:
        raise outcome["error"]
    assert not worker.is_alive(), "the browser script did not finish"
    by_name = {}
    for c in companion.audit.recent(100):
        if c["accepted"]:
            by_name.setdefault(c["command"], c["command_id"])
    for name, what in (("set_param", "param"), ("emergency_stop", "stopped")):
        cid = by_name[name]
        arrived = queue.arrived[cid]
        first_after = next(i for i, t in enumerate(frames_at) if t >= arrived)
        assert queue.drained[cid] <= first_after        # taken at the next frame boundary
        assert seen[what] == queue.drained[cid]         # and in force within that frame
    assert live.published >= 2 and outcome["plots"] >= 4
