"""The battery form and the clinic's outcome page in a real browser (Debian's Chromium driven
by Playwright, never a downloaded browser) against a real companion and records database:
the therapist pairs, fills the battery on a patient's page, saves it, sees the visit done and
the change from baseline, and opens the clinic's responders. Screenshots go to
``$VRGMI_COMPANION_SHOTS`` (default: the test's tmp folder)."""
import os
from datetime import date
from pathlib import Path

from vrgmi.companion import Companion
from vrgmi.companion.records import DatabaseRecords
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.outcomes.demo import fill_demo_outcomes
from vrgmi.outcomes.store import patient_answers
from vrgmi.records import open_database
from vrgmi.records.queries import upsert_patient

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def test_therapist_fills_the_battery_and_reads_the_clinic(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("VRGMI_COMPANION_SHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    upsert_patient(db, "P01", side="left", level="transradial")
    fill_demo_outcomes(db, "P01", date.today())          # P01's baseline and six peers
    commands = CommandQueue()
    companion = Companion(StatusBoard(), commands, records=DatabaseRecords(db), port=0)
    companion.start()
    pairing, _link = companion.pairing()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(companion.url + "/")
            page.fill("#token", pairing)
            page.click("button[type=submit]")
            expect(page.locator("#link")).to_have_text("connected")
            page.goto(companion.url + "/#/patients/P01")
            expect(page.locator("#p-title")).to_have_text("Patient P01")
            expect(page.locator("#o-visits tr").first).to_contain_text("done")
            # the phase-change visit: the next one not done is offered first
            page.select_option("#o-timepoint", "end")
            page.select_option("#o-pain-average", "3")
            page.select_option("#o-pain-worst", "5")
            page.select_option("#o-interference-sleep", "2")
            page.select_option("#o-interference-mood", "1")
            page.select_option("#o-interference-activity", "3")
            # the PSFS names come from the baseline: only the ratings are new
            expect(page.locator("#o-psfs-name-0")).to_have_value("Carrying shopping")
            for k, rating in enumerate(("6", "7", "8")):
                page.select_option(f"#o-psfs-rating-{k}", rating)
            page.fill("#o-prosthesis-hours", "9.5")
            page.click("#o-form button[type=submit]")
            # (the server also draws the patient's progress charts meanwhile: allow time)
            expect(page.locator("#o-saved")).to_have_text("Saved 5 measure(s).", timeout=60000)
            expect(page.locator("#o-visits")).to_contain_text("end of treatment")
            page.wait_for_function("() => document.querySelector('#o-plot').complete && "
                                   "document.querySelector('#o-plot').naturalWidth > 300")
            page.locator("#p-outcomes").screenshot(path=str(shots / "companion-outcomes-form.png"))
            # half an answer: the server's one-line reason, nothing stored
            page.select_option("#o-timepoint", "fu_1m")
            page.select_option("#o-pain-average", "2")
            page.click("#o-form button[type=submit]")
            expect(page.locator("#o-error")).to_have_text(
                "outcomes: pain worst must be a number 0..10", timeout=60000)
            page.goto(companion.url + "/#/outcomes")
            expect(page.locator("#oc-summary tr").first).to_be_visible(timeout=60000)
            expect(page.locator("#oc-due")).to_contain_text("demo-p03")
            page.wait_for_function("() => ['#oc-responders', '#oc-change'].every(s => "
                                   "document.querySelector(s).naturalWidth > 300)")
            page.screenshot(path=str(shots / "companion-outcomes-clinic.png"), full_page=True)
            # an overdue visit in the headset: the button sends Start with the visit
            page.goto(companion.url + "/#/patients/demo-p03")
            row = page.locator("#o-visits tr", has_text="overdue")
            row.get_by_role("button", name="Run in the headset").click()
            expect(page.locator("#o-saved")).to_contain_text("sent to the headset")
            page.locator("#p-outcomes").screenshot(
                path=str(shots / "companion-outcomes-followup.png"))
            expect(page.locator("#o-error")).to_have_text("")
            sent: list = []
            for _ in range(100):
                sent += [c for c in commands.drain() if c.name == "start"]
                if sent:
                    break
                page.wait_for_timeout(100)
            browser.close()
    finally:
        companion.stop()
    answers = patient_answers(db, "P01")
    assert not any(a["timepoint"] == "fu_1m" for a in answers)
    stored = {a["measure"]: a for a in answers if a["timepoint"] == "end"}
    # the medication rows come forward from the baseline (the therapist confirms them)
    assert set(stored) == {"pain", "interference", "psfs", "prosthesis", "medication"}
    assert stored["medication"]["answers"]["rows"][0]["name"] == "gabapentin"
    assert stored["pain"]["scores"] == {"average": 3, "worst": 5}
    assert stored["psfs"]["scores"] == {"mean": 7.0}
    assert stored["prosthesis"]["scores"] == {"hours": 9.5}
    assert stored["pain"]["by"].startswith("companion:")
    assert [c.args for c in sent] == [{"patient": "demo-p03", "follow_up": "fu_3m"}]
    db.close()
