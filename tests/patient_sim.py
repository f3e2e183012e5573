"""A simulated patient over a 6-week GMI program, for the report tests and the doc images.

Unlike ``records_data`` (hand-computable numbers), the trial records here come from the
project's own emitters, so the reports are checked on what the tasks really record:

* laterality: stimuli from :class:`vrgmi.laterality.stimuli.StimulusGenerator` (hands,
  rotated about 1-2 axes, up to 180 deg; ``Stimulus.describe()`` gives the fields), answered
  by a model patient whose median RT is ``2.9 - 0.9 w`` s (``w`` = 0 at the start, 1 at
  the end of the program) + 3 ms per degree of rotation + 0.3 s for lateral stimuli rotated
  about two axes + ``0.45 - 0.35 w`` s on the affected (left) side, and whose accuracy rises
  from 75 % to 93 % (6 points lower on the affected side);
* imagery (from week 3): trial records shaped as :class:`vrgmi.imagery.session_logic.
  TrialLogic` writes them, with KVIQ questionnaires scored by :func:`vrgmi.imagery.kviq.
  scores` (1 to 3 items rated per session, so totals would jump with the count);
* mirror (from week 5): :class:`vrgmi.mirror.reach.ReachTask` driven with minimum-jerk reaches
  of the phantom palm toward each target (faster as the weeks go; early on some reaches stop
  short of the target and time out).

One session a day, 09:00 UTC from 2026-03-02; seeded, so every run gives the same records.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from vrgmi.events import Event
from vrgmi.imagery.kviq import KviqAnswer, scores
from vrgmi.laterality.stimuli import StimulusGenerator, StimulusRanges
from vrgmi.mirror.reach import ReachTask
from vrgmi.records.db import Database
from vrgmi.records.store import EventWriter, event_uid

DAY0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()
AFFECTED = "left"
KVIQ_ITEMS = ("shoulder_elevation", "forward_shoulder_flexion", "elbow_flexion_extension")
RATE = 90.0


def _laterality(rng: np.random.Generator, gen: StimulusGenerator, w: float,
                n: int) -> list[dict[str, Any]]:
    ranges = StimulusRanges(limbs=("hand",), axes="2", rotation_max_deg=180.0)
    gen.new_block(n, ranges.limbs)
    out = []
    for i in range(n):
        stim = gen.next(ranges).describe()
        affected = stim["side"] == AFFECTED
        rt = (2.9 - 0.9 * w + 0.003 * stim["rotation_deg"]
              + (0.3 if stim["medial_lateral"] == "lateral" and len(stim["axes"]) > 1 else 0.0)
              + ((0.45 - 0.35 * w) if affected else 0.0)) * float(rng.lognormal(0.0, 0.12))
        p_correct = 0.75 + 0.18 * w - (0.06 if affected else 0.0)
        out.append({"index": i, "block": 0, "trial_in_block": i, **stim,
                    "rt_ms": round(1000.0 * rt, 1), "correct": bool(rng.random() < p_correct),
                    "timeout": False})
    return out


def _imagery(rng: np.random.Generator, w: float) -> tuple[list[dict[str, Any]], dict]:
    trials, answers = [], []
    for i, item in enumerate(KVIQ_ITEMS[:1 + int(rng.integers(3))]):
        executed = float(rng.uniform(2.2, 3.2))
        imagined = executed * float(rng.normal(1.45 - 0.4 * w, 0.08))
        visual = int(np.clip(round(2.2 + 2.0 * w + rng.normal(0, 0.4)), 1, 5))
        kin = int(np.clip(round(1.6 + 2.2 * w + rng.normal(0, 0.4)), 1, 5))
        trials.append({"index": i, "block": 0, "movement": item, "limb": "arm", "level": 1,
                       "kviq_item": item, "executed_s": round(executed, 4),
                       "imagined_s": round(imagined, 4),
                       "ratio": round(imagined / executed, 4), "visual": visual,
                       "kinesthetic": kin, "timeouts": []})
        answers.append(KviqAnswer(item, visual, kin))
    return trials, {"instrument": "kviq", "moment": "post",
                    "answers": [{"item": a.item, "visual": a.visual,
                                 "kinesthetic": a.kinesthetic} for a in answers],
                    "scores": scores(answers)}


def _mirror(rng: np.random.Generator, w: float, trials: int = 5) -> list[dict[str, Any]]:
    """Reach trials of the real task: the palm reaches each target in a minimum-jerk
    movement after a reaction time, or stops short of it (more often early on)."""
    centre = np.array([-0.2, 0.35, 1.0])
    targets = [centre + rng.uniform(-0.12, 0.12, 3) for _ in range(trials)]
    task = ReachTask(lambda k: targets[k][None, :], radius_m=0.05, dwell_s=0.5,
                     time_limit_s=6.0, trials=trials, rest_s=0.5, rate_hz=RATE)
    start, results, t = np.array([-0.2, 0.15, 0.8]), [], 0.0
    plan: dict[str, float] = {}
    while not task.finished:
        if task.active and not plan:
            short = rng.random() < 1.2 * (1.0 - w)
            plan = {"t0": t + 0.4, "d": float(rng.uniform(-0.2, 0.2) + 2.6 - 1.6 * w),
                    "reach": 0.6 if short else 1.0}
        if plan:
            s = np.clip((t - plan["t0"]) / plan["d"], 0.0, 1.0)
            prof = plan["reach"] * s ** 3 * (10 - 15 * s + 6 * s * s)
            effector = start + prof * (targets[task.index] - start)
        else:
            effector = start
        result = task.update(t, effector)
        if result is not None:
            results.append(result)
            plan = {}
        t += 1.0 / RATE
    return results


def simulated_events(pid: str = "P10", weeks: int = 6,
                     laterality_trials: int = 40) -> list[Event]:
    """Every event of ``weeks`` x 7 daily sessions of the simulated patient (the phases a
    third of the sessions each)."""
    rng = np.random.default_rng(11)
    gen = StimulusGenerator(seed=11)
    out: list[Event] = []
    days = 7 * weeks
    for k in range(days):
        sid = f"{pid}-s{k + 1:02d}"
        w = k / (days - 1)
        phase = ("laterality" if k < days / 3 else "imagery" if k < 2 * days / 3
                 else "mirror")
        clock = {"t": 0.0, "wall": DAY0 + 86400.0 * k}

        def ev(kind: str, data: dict[str, Any], scene: str = "") -> None:
            out.append(Event(kind, clock["t"], data, scene, sid, clock["wall"]))
            clock["t"] += 2.0
            clock["wall"] += 2.0

        ev("session_started", {"patient": pid, "phase": phase, "program": {"phase": phase},
                               "side": AFFECTED, "level": "transradial"})
        pre = int(round(6 - 3 * w + rng.normal(0, 0.5)))
        ev("questionnaire", {"instrument": "nrs", "moment": "pre", "answers": [pre],
                             "scores": {"nrs": pre}}, "nrs")
        ev("scene_started", {"phase": "laterality", "params": {}}, "laterality")
        for trial in _laterality(rng, gen, w, laterality_trials):
            ev("trial", trial, "laterality")
        ev("scene_finished", {"summary": {}, "reason": "completed"}, "laterality")
        if phase != "laterality":
            trials, kviq = _imagery(rng, w)
            ev("scene_started", {"phase": "imagery", "params": {}}, "imagery")
            for trial in trials:
                ev("trial", trial, "imagery")
            ev("questionnaire", kviq, "imagery")
            ev("scene_finished", {"summary": {}, "reason": "completed"}, "imagery")
        if phase == "mirror":
            for scene in ("reach_targets",):
                ev("scene_started", {"phase": "mirror", "params": {}}, scene)
                for trial in _mirror(rng, w):
                    ev("trial", {**trial, "block": 0}, scene)
                ev("scene_finished", {"summary": {}, "reason": "completed"}, scene)
        ssq = [int(rng.random() < 0.15)] + [0] * 15
        ev("questionnaire", {"instrument": "ssq", "moment": "post", "answers": ssq,
                             "scores": {"nausea": 9.54 * ssq[0], "oculomotor": 7.58 * ssq[0],
                                        "disorientation": 0.0, "total": 7.48 * ssq[0]}}, "ssq")
        ev("questionnaire", {"instrument": "nrs", "moment": "post",
                             "answers": [max(0, pre - 1)], "scores": {"nrs": max(0, pre - 1)}},
           "nrs")
        ev("session_finished", {"reason": "completed", "minutes": 15.0})
    return out


def fill_simulated(db: Database, pid: str = "P10", weeks: int = 6,
                   laterality_trials: int = 40) -> int:
    """Store the simulated patient's events in ``db`` with the records' own
    :class:`~vrgmi.records.store.EventWriter`, in one transaction (a sink commits every
    event: half a minute for these 2200); returns the count."""
    events = simulated_events(pid, weeks, laterality_trials)
    writer = EventWriter()
    with db.session() as s:
        for e in events:
            writer.write(s, e, event_uid(e))
    return len(events)


# --- a simulated clinic with outcome visits (issue 17) -------------------------------------
#: patient -> average phantom pain (0-10) at each time point; None: the visit was missed
CLINIC_PAIN: dict[str, dict[str, int | None]] = {
    "C01": {"baseline": 8, "end": 4, "fu_1m": 3, "fu_3m": 4},
    "C02": {"baseline": 6, "end": 5, "fu_1m": 4, "fu_3m": 5},
    "C03": {"baseline": 5, "end": 2, "fu_1m": 2, "fu_3m": None},     # dropped out at 3 months
    "C04": {"baseline": 7, "end": 7, "fu_1m": 6, "fu_3m": 6},
    "C05": {"baseline": 0, "end": 1, "fu_1m": 0, "fu_3m": 0},        # no pain to lose
    "C06": {"baseline": 9, "end": 6, "fu_1m": None, "fu_3m": None},  # dropped out after the end
    "C07": {"baseline": 4, "end": 2, "fu_1m": 2, "fu_3m": 1},
}


def fill_clinic(db: Database, weeks: int = 4) -> None:
    """The patients of :data:`CLINIC_PAIN`: each a week of simulated sessions
    (:func:`fill_simulated`, a few laterality trials a session) and outcome visits through
    the records' own :func:`vrgmi.outcomes.store.record_visit`: baseline on DAY0, the end
    after ``weeks``, follow-ups 1 and 3 months later (missed where ``None``); average pain as
    given, worst pain 2 above it, PSFS one activity rated 10 - average pain."""
    from datetime import timedelta

    from vrgmi.outcomes.schedule import add_months
    from vrgmi.outcomes.store import record_visit

    start = datetime.fromtimestamp(DAY0, timezone.utc)
    end = start + timedelta(days=7 * weeks)
    dates = {"baseline": start, "end": end,
             "fu_1m": datetime.combine(add_months(end.date(), 1), end.timetz()),
             "fu_3m": datetime.combine(add_months(end.date(), 3), end.timetz())}
    for pid, pains in CLINIC_PAIN.items():
        fill_simulated(db, pid, weeks=1, laterality_trials=2)
        for tp, avg in pains.items():
            if avg is None:
                continue
            record_visit(db, pid, tp, {
                "pain": {"average": avg, "worst": min(10, avg + 2)},
                "psfs": {"activities": [{"name": "Cycling", "rating": 10 - avg}]}},
                "sim", dates[tp])
