"""The companion's safety controls in a real browser (Debian's Chromium through Playwright)
against a real engine and session runner: the therapist's Pain check shows the NRS in the
headset, the patient's answer is a flare, the page shows the red banner, and the patient's
page steps the patient back a phase."""
import threading
import time

from vrgmi.app import Engine
from vrgmi.companion import Companion
from vrgmi.companion.records import DatabaseRecords
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.program import Program, SceneStep
from vrgmi.records import RecordSink, open_database
from vrgmi.records import queries
from vrgmi.records.programs import save_program
from vrgmi.scenes.breathing import CalmView
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.scenes.nrs import PainNRS
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

from test_companion_browser import CHROMIUM, CHROMIUM_ARGS


def test_pain_check_flare_banner_and_step_back_from_the_page(display, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    queries.upsert_patient(db, "P01")
    program = Program("P01", phase="imagery", breathing_between_blocks=False,
                      steps={"imagery": [SceneStep("free_mirror", 5.0)]})
    save_program(db, program)
    registry = {"pain_nrs": PainNRS, "calm": CalmView, "free_mirror": FreeMirror}
    engine = Engine(load_settings(None, {"safety.ssq_baseline": False}),
                    ScriptedSource("reach", intact_side="right"), display)
    board, queue = StatusBoard(), CommandQueue()
    runner = SessionRunner(engine, program, tmp_path / "out", queue, board, registry,
                           sinks=[RecordSink(db)],
                           on_program_change=lambda p: save_program(db, p))
    companion = Companion(board, queue, records=DatabaseRecords(db), port=0,
                          scenes={n: c.describe() for n, c in registry.items()})
    companion.start()
    pairing, _link = companion.pairing()
    outcome: dict = {}

    def browse() -> None:
        from playwright.sync_api import expect, sync_playwright
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(companion.url + "/")
                page.fill("#token", pairing)
                page.click("button[type=submit]")
                expect(page.locator("#scene")).to_have_text("free_mirror", timeout=20000)
                page.get_by_role("button", name="Pain check").click()
                banner = page.locator("#alerts .alert.pain_flare")
                expect(banner).to_contain_text("pain flare: NRS 1 -> 8", timeout=20000)
                page.screenshot(path=str(tmp_path / "companion-flare.png"))
                page.goto(companion.url + "/#/patients/P01")
                expect(page.locator("#p-title")).to_have_text("Patient P01")
                page.click("#step-back-form button[type=submit]")
                expect(page.locator("#step-back-error")).to_have_text("Say why (it is recorded).")
                page.fill("#step-back-reason", "pain flare in the imagery block")
                page.click("#step-back-form button[type=submit]")
                expect(page.locator("#step-back-error")).to_have_text("")
                browser.close()
        except BaseException as exc:       # reported on the frame thread
            outcome["error"] = exc

    worker = threading.Thread(target=browse)
    worker.start()
    deadline = time.monotonic() + 120.0
    frame, answered = 0, set()
    try:
        runner.start(0.0)
        while worker.is_alive() and time.monotonic() < deadline:
            t = frame / 60.0
            scene = runner.scene if runner._check is None else runner._check
            moment = scene.inner.difficulty["moment"] if scene and scene.name == "pain_nrs" \
                else None
            if moment is not None and moment not in answered:      # the patient answers
                answered.add(moment)
                answers = {"pre": ["right", "right", "select"],         # 1
                           "check": ["left", "left", "left", "select"]}  # 8
                for action in answers.get(moment, []):
                    engine.inputs.push(action, t, "script")
            runner.step(t, 1 / 60.0, render=False)
            frame += 1
            time.sleep(1 / 120.0)
        worker.join(30.0)
    finally:
        companion.stop()
        runner.close()
        engine.close()
    try:
        if "error" in outcome:
            raise outcome["error"]
        assert not worker.is_alive(), "the browser script did not finish"
        assert answered >= {"pre", "check"}
        assert runner.program.phase == "laterality"                  # stepped back
        record = runner.program.overrides[-1]
        assert record["reason"] == "pain flare in the imagery block"
        assert record["by"].startswith("companion:")
        assert [e.data["moment"] for e in runner.events.history
                if e.kind == "pain_flare"] == ["check"]
        assert companion.audit.flush(10.0)
        logged = [r["command"] for r in queries.list_commands(db, 50) if r["accepted"]]
        assert "pain_check" in logged and "step_back" in logged
    finally:
        db.close()
