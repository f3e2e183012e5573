"""Program gating: advance, each criterion failing, the therapist override; files."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from vrgmi.events import EventBus
from vrgmi.laterality.norms import norms_for
from vrgmi.program import (ImageryGate, LateralityGate, Program, ProgramError, SceneStep, gate,
                           load_program, override, program_from_dict, save_program)
from vrgmi.settings import load_settings

START = date(2025, 3, 1)


def lat(day: int, acc=(0.85, 0.90), rt=(1.9, 1.8), phase="laterality") -> dict:
    return {"date": (START + timedelta(days=day)).isoformat(), "phase": phase,
            "laterality": {"accuracy": {"left": acc[0], "right": acc[1]},
                           "rt_s": {"left": rt[0], "right": rt[1]},
                           "trials": {"left": 20, "right": 20}}}


def good_fortnight() -> list[dict]:
    return [lat(d) for d in range(15)]              # 1 to 15 March, every day


def test_laterality_advances_when_every_criterion_holds():
    decision = gate(Program("p01", phase_started=START), good_fortnight())
    assert decision.advance and decision.next_phase == "imagery"
    c = decision.criteria
    assert c["accuracy"].value == 0.85 and c["accuracy"].threshold == 0.80
    assert c["response_time"].value == 1.9 and c["response_time"].threshold == 2.5
    assert c["left_right_equal"].value == {"rt_s": 0.1, "accuracy": 0.05}
    assert c["stable"].value == 15 and c["phase_length"].value == 15
    assert decision.reasons == ["all laterality criteria met: ready for imagery"]


@pytest.mark.parametrize("week, failing", [
    (dict(acc=(0.75, 0.80)), "accuracy"),
    (dict(rt=(2.6, 2.4)), "response_time"),
    (dict(rt=(2.4, 1.9)), "left_right_equal"),              # 0.5 s apart
    (dict(acc=(0.80, 0.95)), "left_right_equal"),           # 15 points apart
])
def test_laterality_not_yet_when_the_last_weeks_probes_fail(week, failing):
    history = good_fortnight()[:8] + [lat(d, **week) for d in range(8, 15)]
    decision = gate(Program("p01", phase_started=START), history)
    assert not decision.advance
    assert not decision.criteria[failing].met
    met = {k for k, c in decision.criteria.items() if c.met}
    assert {"accuracy", "response_time", "left_right_equal"} - {failing} <= met
    assert decision.criteria[failing].reason in decision.reasons


def test_one_noisy_probe_does_not_stop_a_patient_whose_week_meets_the_norms():
    """12-20 probe pictures a side: 75 % in one session is within chance of 85 %."""
    history = good_fortnight()[:-1] + [lat(14, acc=(0.75, 0.80))]
    decision = gate(Program("p01", phase_started=START), history)
    assert decision.advance
    assert decision.criteria["accuracy"].value == pytest.approx((6 * 0.85 + 0.75) / 7, abs=1e-4)


def test_laterality_needs_a_stable_week():
    history = good_fortnight()
    history[9] = lat(9, rt=(2.7, 2.7))               # 10 March fails: streak is 11-15 March
    decision = gate(Program("p01", phase_started=START), history)
    assert not decision.advance
    assert [k for k, c in decision.criteria.items() if not c.met] == ["stable"]
    assert decision.criteria["stable"].value == 5
    assert decision.reasons == ["the probes held the norms for 5 of at least 7 days"]
    history[9] = lat(9, acc=(0.5, 0.5))              # 10 of 20: below the norm beyond chance
    assert gate(Program("p01", phase_started=START), history).criteria["stable"].value == 5
    history[9] = lat(9, acc=(0.65, 0.65))            # 13 of 20: within chance of 80 %
    assert gate(Program("p01", phase_started=START), history).criteria["stable"].value == 15


def test_laterality_needs_two_weeks_in_the_phase():
    decision = gate(Program("p01", phase_started=START), good_fortnight()[:10])
    assert [k for k, c in decision.criteria.items() if not c.met] == ["phase_length"]
    assert decision.criteria["phase_length"].value == 10


def test_only_this_phase_since_its_start_counts():
    history = good_fortnight() + [lat(20, acc=(0.1, 0.1), phase="imagery"),
                                  lat(-3, acc=(0.1, 0.1))]
    assert gate(Program("p01", phase_started=START), history).advance
    empty = gate(Program("p01", phase_started=START), [], today=START)
    assert not empty.advance and "no laterality probe answers for both sides" in empty.reasons
    no_probe = [{**s, "laterality": None} for s in good_fortnight()]   # training blocks only
    assert "no laterality probe yet" in gate(Program("p01", phase_started=START),
                                              no_probe).reasons


def test_the_gate_reads_the_norms_from_the_settings_once():
    strict = load_settings(None, ["norms.accuracy_min=0.9", "norms.rt_mean_s=1.5"]).norms
    decision = gate(Program("p01", phase_started=START), good_fortnight(), norms=strict)
    assert not decision.advance
    assert decision.criteria["accuracy"].threshold == 0.9
    assert decision.criteria["response_time"].threshold == 2.0
    # a number in the patient's program overrides the clinic's norm; None leaves it
    own = Program("p01", phase_started=START, laterality=LateralityGate(min_accuracy=0.8))
    assert own.laterality.resolved(strict).min_accuracy == 0.8
    assert own.laterality.resolved(strict).rt_norm_s == 1.5
    assert Program("p01").laterality.resolved() == LateralityGate(
        0.80, 2.0, 0.5, 0.3, 0.10, 7, 14)


def test_gate_and_reports_agree_on_a_fast_median():
    """1.30 s is faster than 2.0 - 0.5 s: the gate passes it and so does the norms' rule
    the analysis and the reports use (once, in vrgmi.laterality.norms)."""
    fast = [lat(d, rt=(1.30, 1.30)) for d in range(15)]
    assert gate(Program("p01", phase_started=START), fast).advance
    assert norms_for("hand").rt_ok(1.30) and norms_for("hand").rt_verdict(1.30) == "faster"


def img(day: int, ratio=1.1, trials=10, kviq=None) -> dict:
    return {"date": (START + timedelta(days=day)).isoformat(), "phase": "imagery",
            "imagery": {"ratio": ratio, "trials": trials, "kviq_mean": kviq}}


def test_imagery_gate():
    p = Program("p01", phase="imagery", phase_started=START)
    good = [img(d) for d in range(14)] + [img(14, kviq=3.5)]
    assert gate(p, good).advance
    bad_ratio = gate(p, good[:-2] + [img(13, 1.0, 10), img(14, 1.5, 30, kviq=3.5)])
    # trial-weighted over the 7 days 9-15 March: (5 x 10 x 1.1 + 10 x 1.0 + 30 x 1.5) / 90
    assert bad_ratio.advance
    assert bad_ratio.criteria["chronometry"].value == pytest.approx(110 / 90, abs=1e-4)
    narrow = Program("p01", phase="imagery", phase_started=START,
                     imagery=ImageryGate(ratio_hi=1.15))
    assert not gate(narrow, good[:-2] + [img(13, 1.0, 10), img(14, 1.5, 30, kviq=3.5)]).advance
    low_kviq = gate(p, good[:-1] + [img(14, kviq=2.5)])
    assert [k for k, c in low_kviq.criteria.items() if not c.met] == ["kviq"]
    few = gate(p, [img(d, kviq=4.0) for d in (0, 3, 6, 9, 14)])
    assert [k for k, c in few.criteria.items() if not c.met] == ["sessions"]
    assert few.criteria["sessions"].value == 5


def test_mirror_is_the_last_phase():
    decision = gate(Program("p01", phase="mirror", phase_started=START), [])
    assert not decision.advance and decision.next_phase is None
    assert "last phase" in decision.reasons[0]


def test_override_is_recorded_and_moves_the_phase():
    bus = EventBus("s1")
    p = Program("p01", phase_started=START)
    decision = gate(p, good_fortnight()[:5])
    moved = override(p, True, "therapist-7", "clinically ready", bus, t=3.0, decision=decision,
                     today=date(2025, 3, 6))
    assert moved.phase == "imagery" and moved.phase_started == date(2025, 3, 6)
    assert moved.overrides == [{"date": "2025-03-06", "phase": "laterality", "advance": True,
                                "by": "therapist-7", "reason": "clinically ready"}]
    assert p.overrides == [] and p.phase == "laterality"          # the original is untouched
    (event,) = bus.of_kind("gate_decision")
    assert event.data["override"] is True and event.data["advance"] is True
    assert event.data["by"] == "therapist-7" and event.data["next_phase"] == "imagery"
    assert event.data["criteria"]["phase_length"]["value"] == 5
    held = override(moved, False, "therapist-7", "hold a week longer", bus)
    assert held.phase == "imagery" and len(held.overrides) == 2
    with pytest.raises(ProgramError):
        override(p, True, "therapist-7", " ", bus)


def test_program_round_trip_and_toml(tmp_path):
    p = Program("p01", phase="imagery", phase_started=START, minutes_per_session=12,
                steps={"imagery": [SceneStep("imagery", 5.0, {"level": 2})]})
    path = save_program(p, tmp_path / "p.json")
    back = load_program(path)
    assert back == p
    toml = tmp_path / "p.toml"
    toml.write_text('patient = "p02"\nphase = "laterality"\nphase_started = 2025-03-01\n'
                    'minutes_per_session = 20\n[laterality]\nmin_accuracy = 0.85\n'
                    '[[steps.laterality]]\nscene = "laterality"\nminutes = 8\n')
    q = load_program(toml)
    assert q.laterality.min_accuracy == 0.85 and q.steps["laterality"][0].minutes == 8
    assert q.phase_started == START and q.minutes_per_session == 20


@pytest.mark.parametrize("data, words", [
    ({"patient": "p01", "phase": "mirrors"}, "phase = 'mirrors'"),
    ({"patient": "p01", "minutes_per_session": 45}, "minutes_per_session = 45"),
    ({"patient": "p01", "colour": 1}, "unknown key(s) colour"),
    ({"patient": "Jane Doe"}, "pseudonym"),
    ({"patient": "p01", "laterality": {"min_accuracy": 2}}, "laterality.min_accuracy"),
    ({"patient": "p01", "steps": {"imagery": [{"scene": "x", "minutes": 0}]}}, "minutes = 0"),
    ({"patient": "p01", "phase_started": "March"}, "phase_started"),
    ({"phase": "mirror"}, "patient"),
])
def test_bad_programs_give_one_line(data, words):
    with pytest.raises(ProgramError) as err:
        program_from_dict(data)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_unreadable_files_give_one_line(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    for path in (bad, tmp_path / "missing.json"):
        with pytest.raises(ProgramError) as err:
            load_program(path)
        assert "\n" not in str(err.value)
    with pytest.raises(ProgramError):
        save_program(Program("p01"), tmp_path / "p.toml")
    assert json.loads(save_program(Program("p01"), tmp_path / "ok.json").read_text())["patient"] == "p01"
