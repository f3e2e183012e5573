"""Simulated patients over four weeks through the real laterality task, session summary and
gate: 3 sessions a day of the default laterality scene (its 24-trial probe, then a short
staircase block, the staircase level carried to the next session), answered by simulated
responders through the task's own API on its display clock, every session summarised by
:func:`vrgmi.session.session_summary` and gated by :func:`vrgmi.program.gate`.

Responders answer a stimulus correctly with a probability set by its rotation (easy: up
to 60 deg, mid: up to 120 deg, hard: beyond) and after a log-normal response time whose
median grows with the rotation (Parsons 1987). The protocol expects about two weeks of
laterality training (CLINICAL.md): patients who perform at the norm must advance then, a
truly impaired one must not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pytest

from vrgmi.events import Event
from vrgmi.input import InputEvent
from vrgmi.laterality.staircase import next_session_start
from vrgmi.laterality.task import LateralityTask
from vrgmi.program import Program, gate
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.session import session_summary

START = date(2026, 3, 2)
DAYS, PER_DAY, PATIENTS = 28, 3, 10
#: the frame step while a stimulus is up (under the task's pause-detection gap)
STEP_S = 0.49
#: staircase trials after the probe (the scene's default is 3 blocks of 20: the gate ignores
#: them, and one short block keeps the summaries honest about that while 10 patients x 28
#: days stay fast)
TRAINING_TRIALS = 4


@dataclass(frozen=True)
class Responder:
    """P(correct) by difficulty (easy, mid, hard) and the RT model (s)."""

    p_correct: tuple[float, float, float]
    rt_base_s: float = 1.1
    rt_per_deg_s: float = 0.004
    rt_sigma: float = 0.25

    def answer(self, side: str, rotation_deg: float, rng: np.random.Generator):
        level = 0 if rotation_deg <= 60.0 else 1 if rotation_deg <= 120.0 else 2
        ok = rng.random() < self.p_correct[level]
        rt = (self.rt_base_s + self.rt_per_deg_s * rotation_deg) \
            * math.exp(rng.normal(0.0, self.rt_sigma))
        return (side if ok else ("left" if side == "right" else "right")), rt


TYPICAL = Responder((0.95, 0.80, 0.70))          # the "95 % easy / 80 % mid"
CONSTANT_90 = Responder((0.90, 0.90, 0.90))
IMPAIRED = Responder((0.65, 0.65, 0.65))
SLOW = Responder((0.90, 0.90, 0.90), rt_base_s=2.6)


def run_session(responder: Responder, start_level: float, seed: int, rng, session: str,
                wall: float) -> tuple[list[Event], float]:
    """One default laterality scene's task, answered by ``responder``; its events and
    the staircase level it ended at."""
    scene = LateralityScene(start_level=start_level, blocks=1, block_length=TRAINING_TRIALS)
    config = scene._config()
    events = [Event("session_started", 0.0, {"patient": "sim", "phase": "laterality",
                                             "seed": seed}, "", session, wall),
              Event("scene_started", 0.0, {"phase": "laterality"}, "laterality", session,
                    wall)]
    task = LateralityTask(config.__class__(**{**config.__dict__, "seed": seed}),
                          lambda r: events.append(Event("trial", r["onset_t"], r,
                                                        "laterality", session, wall)))
    t = 0.0
    task.update(t, [InputEvent("select", t, "sim")])
    pending: InputEvent | None = None
    while not task.finished:
        if task.phase in ("intro", "rest"):
            t = max(t, task._until) + 0.05
            task.update(t, [InputEvent("select", t, "sim")])
        elif task.phase == "fixation":
            t = task._until
            task.update(t, [])
            if task.phase == "stimulus":
                stim = task.stimulus
                side, rt = responder.answer(stim.side, stim.rotation_deg, rng)
                pending = InputEvent(side, task.onset + rt, "sim")
        elif task.phase in ("stimulus", "response"):
            t += STEP_S
            due = pending is not None and pending.t <= t
            task.update(t, [pending] if due else [])
            if due:
                pending = None
        else:                                   # feedback
            t = task._until
            task.update(t, [])
    return events, task.level


def simulate(responder: Responder, patient: int) -> int | None:
    """The day (1-based) the gate lets ``patient`` advance, or None within 28 days."""
    rng = np.random.default_rng(1000 + patient)
    program = Program(f"sim{patient}", phase_started=START)
    history, level = [], 0.0
    for day in range(DAYS):
        wall = (START + timedelta(days=day)).toordinal()
        for k in range(PER_DAY):
            events, end_level = run_session(
                responder, level, int(rng.integers(1, 2 ** 62)), rng,
                f"p{patient}d{day}s{k}", 0.0)
            summary = session_summary(events)
            summary["date"] = (START + timedelta(days=day)).isoformat()
            history.append(summary)
            level = next_session_start(end_level)
        if gate(program, history).advance:
            return day + 1
    return None


@pytest.mark.parametrize("responder, advances_by", [(TYPICAL, 14), (CONSTANT_90, 14)])
def test_patients_at_the_norm_advance_in_about_two_weeks(responder, advances_by):
    days = [simulate(responder, p) for p in range(PATIENTS)]
    print(f"advanced on days {days}")
    assert all(d is not None and d <= advances_by for d in days), days


@pytest.mark.parametrize("responder", [IMPAIRED, SLOW])
def test_impaired_patients_do_not_advance(responder):
    days = [simulate(responder, p) for p in range(PATIENTS)]
    assert days == [None] * PATIENTS
