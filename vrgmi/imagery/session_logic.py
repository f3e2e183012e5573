"""One "Imagine it" trial as a plain state machine, fed per frame with (t, inputs, speed).

Phases, in order (docs/imagery.md):

``demonstrate``  the phantom limb shows the movement (``demo_s`` seconds);
``execute``      the patient does it once with the intact limb; the effector's speed is
                 recorded and the movement found online (start, then still for a moment);
                 no movement within ``execute_timeout_s`` -> executed time missing;
``cue``          "Now imagine ..." is read (``cue_s``; ``select`` skips ahead, ``back``
                 shows the demonstration again);
``count_in``     3-2-1 (``count_in_s``) with a tone each second;
``imagine``      after the "go" tone: the first mark (``mark`` or ``select``: one button)
                 starts the imagined movement, the second ends it; no second mark within
                 ``imagine_timeout_s`` -> missing;
``rate_visual``, ``rate_kinesthetic``  KVIQ 1-5: left/down lower, right/up raise, select
                 confirms, back skips (None); ``rate_timeout_s`` -> None;
``done``         :attr:`TrialLogic.record` holds the trial.

The record carries two display times for an EEG/LSL timeline (docs/research.md):
``onset_t``, the trial's first frame (the demonstration starts: the stimulus onset), and
``go_t``, the frame of the go tone (None when the trial never got there).

While imagining, the intact hand / foot should stay still: its peak speed and its largest
distance from where it was at the go tone are recorded, and a trial where either passes the
``imagery.intact_moved_mps`` / ``imagery.intact_moved_m`` settings is flagged
``intact_moved`` (the patient may have moved instead of imagining).

Inputs handed in one frame happened before that frame's display time, so they are judged
against what the patient saw until then: the state left by the previous frame. No Panda3D.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vrgmi.imagery.chronometry import (OnlineMovementDetector, SpeedTrace, chronometry_ratio,
                                       imagined_duration)
from vrgmi.imagery.kviq import KVIQ_ITEMS, KviqAnswer, scores
from vrgmi.imagery.movements import Movement, movements_for
from vrgmi.imagery.progression import suggest_level
from vrgmi.input import InputEvent

TRIAL_PHASES = ("demonstrate", "execute", "cue", "count_in", "imagine", "rate_visual",
                "rate_kinesthetic", "done")
RATING_START = 3
#: actions that mark the start / end of the imagined movement: the dedicated ``mark`` and,
#: so that one button on any controller does it, ``select``
MARK_ACTIONS = ("mark", "select")
STEP = {"left": -1, "down": -1, "right": 1, "up": 1}


@dataclass(frozen=True)
class TrialConfig:
    """Timing and switches of a trial (the scene fills it from its difficulty values)."""

    repetitions: int = 2
    execute: bool = True
    execute_timeout_s: float = 15.0
    cue_s: float = 3.0
    count_in_s: float = 3.0
    imagine_timeout_s: float = 30.0
    rate: bool = True
    rate_timeout_s: float = 60.0
    intact_moved_m: float = 0.03
    intact_moved_mps: float = 0.10


class TrialLogic:
    """One trial of ``movement``; call :meth:`update` every frame until :attr:`done`.

    ``cues`` collects what the scene should play this frame ("count:3", "go", "end"); the
    scene empties it. ``demo_s`` is how long the demonstration runs (the player's plan).
    """

    def __init__(self, movement: Movement, config: TrialConfig, t: float, demo_s: float,
                 trace: SpeedTrace | None = None, index: int = 0,
                 practice: bool = False) -> None:
        self.movement = movement
        self.practice = practice
        self.config = config
        self.index = index
        self.demo_s = float(demo_s)
        self.trace = trace or SpeedTrace()
        self.detector = OnlineMovementDetector()
        self.phase = "demonstrate"
        self.phase_t = t
        #: the display time of the trial's first frame: the demonstration's (the cue's)
        self.onset_t = t
        self.cues: list[str] = []
        self.rating = RATING_START
        self.demo_shows = 1
        self.executed_s: float | None = None
        self.execute_onset_s: float | None = None
        self.go_t: float | None = None
        self.marks: list[float] = []          # imagery marks after go (display clock)
        self.early_marks = 0                  # marks before go (ignored)
        self.visual: int | None = None
        self.kinesthetic: int | None = None
        self.timeouts: list[str] = []
        self.still_peak_mps = 0.0             # intact limb's peak speed while imagining
        self.still_drift_m = 0.0              # ... and its largest distance from the go pose
        self._still_origin = np.full(3, np.nan)
        self.record: dict[str, Any] | None = None
        self._count_shown = 0

    @property
    def done(self) -> bool:
        """True once the trial has its record."""
        return self.phase == "done"

    def elapsed(self, t: float) -> float:
        """Seconds since the current phase began."""
        return t - self.phase_t

    def count_left(self, t: float) -> int:
        """The number the count-in shows at ``t`` (3, 2, 1), 0 outside the count-in."""
        if self.phase != "count_in":
            return 0
        return max(1, math.ceil(self.config.count_in_s - self.elapsed(t) - 1e-9))

    def update(self, t: float, inputs: Sequence[InputEvent], speed: float,
               position: np.ndarray | None = None) -> None:
        """Advance to frame time ``t`` with the inputs since the last frame and the intact
        effector's speed (m/s; NaN when the intact limb is not tracked) and position (m;
        None or NaN when not tracked)."""
        for event in inputs:
            self._on_input(event)
        self._on_time(t, speed)
        if self.phase == "imagine" and position is not None and np.isfinite(position).all():
            if np.isnan(self._still_origin[0]):
                self._still_origin[:] = position
            self.still_drift_m = max(self.still_drift_m,
                                     float(np.linalg.norm(position - self._still_origin)))

    # -- inputs ---------------------------------------------------------------------------
    def _on_input(self, event: InputEvent) -> None:
        a, phase = event.action, self.phase
        if a in MARK_ACTIONS and phase in ("imagine", "count_in"):
            if phase == "imagine":
                self.marks.append(event.t)
                if len(self.marks) == 2:
                    self.cues.append("end")
                    self._after_imagine(event.t)
            else:
                self.early_marks += 1
        elif a == "mark" and phase == "cue":
            self.early_marks += 1
        elif phase == "cue" and a == "select":
            self._start_count_in(event.t)
        elif phase == "cue" and a == "back":
            self.demo_shows += 1
            self._enter("demonstrate", event.t)
        elif phase in ("rate_visual", "rate_kinesthetic"):
            if a in STEP:
                self.rating = min(5, max(1, self.rating + STEP[a]))
            elif a in ("select", "back"):
                self._rated(self.rating if a == "select" else None, event.t)

    # -- time -----------------------------------------------------------------------------
    def _on_time(self, t: float, speed: float) -> None:
        phase, since = self.phase, self.elapsed(t)
        if phase == "demonstrate" and since >= self.demo_s:
            if self.config.execute and self.executed_s is None and self.demo_shows == 1:
                self._enter("execute", t)
                self.trace.clear()
                self.detector.reset()
            else:
                self._enter("cue", t)
        elif phase == "execute":
            self._execute_step(t, speed, since)
        elif phase == "cue" and since >= self.config.cue_s:
            self._start_count_in(t)
        elif phase == "count_in":
            if since >= self.config.count_in_s:
                self._enter("imagine", t)
                self.go_t = t
                self.cues.append("go")
            else:
                n = self.count_left(t)
                if n != self._count_shown:
                    self._count_shown = n
                    self.cues.append(f"count:{n}")
        elif phase == "imagine":
            if math.isfinite(speed):
                self.still_peak_mps = max(self.still_peak_mps, speed)
            if since >= self.config.imagine_timeout_s:
                self.timeouts.append("imagine")
                self._after_imagine(t)
        elif phase in ("rate_visual", "rate_kinesthetic") and since >= self.config.rate_timeout_s:
            self.timeouts.append(phase)
            self._rated(None, t)

    def _execute_step(self, t: float, speed: float, since: float) -> None:
        self.trace.append(t, speed if math.isfinite(speed) else 0.0)
        state = self.detector.update(t, speed)
        if state == "done":
            bounds = self.trace.bounds()
            if bounds is not None:
                self.execute_onset_s = bounds[0] - self.phase_t
                self.executed_s = bounds[1] - bounds[0]
            self._enter("cue", t)
        elif since >= self.config.execute_timeout_s:
            self.timeouts.append("execute")
            self._enter("cue", t)

    # -- transitions ----------------------------------------------------------------------
    def _enter(self, phase: str, t: float) -> None:
        self.phase, self.phase_t = phase, t

    def _start_count_in(self, t: float) -> None:
        self._count_shown = 0
        self._enter("count_in", t)
        if self.config.count_in_s <= 0.0:
            self._enter("imagine", t)
            self.go_t = t
            self.cues.append("go")

    def _after_imagine(self, t: float) -> None:
        if self.config.rate:
            self.rating = RATING_START
            self._enter("rate_visual", t)
        else:
            self._finish(t)

    def _rated(self, value: int | None, t: float) -> None:
        if self.phase == "rate_visual":
            self.visual = value
            self.rating = RATING_START
            self._enter("rate_kinesthetic", t)
        else:
            self.kinesthetic = value
            self._finish(t)

    def _finish(self, t: float) -> None:
        m = self.movement
        start = self.marks[0] if self.marks else None
        end = self.marks[1] if len(self.marks) > 1 else None
        imagined = imagined_duration(start, end)
        go = self.go_t
        self.record = {
            "index": self.index, "movement": m.id, "name": m.name, "limb": m.limb,
            "level": m.level, "kviq_item": m.kviq, "repetitions": self.config.repetitions,
            "demo_shows": self.demo_shows,
            "executed_s": _round(self.executed_s), "execute_onset_s": _round(self.execute_onset_s),
            "imagined_s": _round(imagined),
            "ratio": _round(chronometry_ratio(imagined, self.executed_s)),
            "visual": self.visual, "kinesthetic": self.kinesthetic,
            "marks": [round(x - go, 4) for x in self.marks] if go is not None else [],
            "early_marks": self.early_marks, "timeouts": list(self.timeouts),
            "still_peak_mps": round(self.still_peak_mps, 4),
            "still_drift_m": round(self.still_drift_m, 4),
            "intact_moved": (self.still_peak_mps > self.config.intact_moved_mps
                             or self.still_drift_m > self.config.intact_moved_m),
            "practice": self.practice,
            "onset_t": self.onset_t, "go_t": go,
        }
        self._enter("done", t)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def plan_block(limb: str, level: int, count: int, kviq_block: bool = False,
               seed: int = 0) -> list[Movement]:
    """The movements of one block: ``count`` of the ``limb``'s movements at ``level`` (KVIQ
    items first, each group in an order drawn from ``seed``, the block's seed, so blocks and
    sessions differ), or every KVIQ item of the limb in KVIQ order when ``kviq_block``.
    Fewer when the level has fewer."""
    if kviq_block:
        items = movements_for(limb, kviq_only=True)
        return sorted(items, key=lambda m: KVIQ_ITEMS[m.kviq].number)[:count]
    pool = movements_for(limb, level)
    kviq = [m for m in pool if m.kviq is not None]
    rest = [m for m in pool if m.kviq is None]
    rng = np.random.default_rng(seed)
    kviq = [kviq[i] for i in rng.permutation(len(kviq))]
    return (kviq + [rest[i] for i in rng.permutation(len(rest))])[:count]


class BlockResults:
    """The trial records of one block, its KVIQ answers and its summary figures."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.trials: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> None:
        """Keep one finished trial."""
        self.trials.append(record)

    def kviq_answers(self) -> list[KviqAnswer]:
        """KviqAnswer for every trial of a KVIQ item with at least one rating."""
        return [KviqAnswer(r["kviq_item"], r["visual"], r["kinesthetic"]) for r in self.trials
                if r["kviq_item"] and (r["visual"] is not None or r["kinesthetic"] is not None)]

    def questionnaire(self) -> dict[str, Any] | None:
        """The ``questionnaire`` event data (instrument kviq) or None without KVIQ answers."""
        answers = self.kviq_answers()
        if not answers:
            return None
        return {"instrument": "kviq", "moment": "trial",
                "answers": [a.as_dict() for a in answers], "scores": scores(answers)}

    def summary(self) -> dict[str, Any]:
        """Counts, mean ratio and ratings, missing measures and the level suggestion."""
        trials = self.trials
        ratios = [r["ratio"] for r in trials if r["ratio"] is not None]
        vis = [r["visual"] for r in trials if r["visual"] is not None]
        kin = [r["kinesthetic"] for r in trials if r["kinesthetic"] is not None]
        progression = suggest_level(trials, self.level)
        return {
            "trials": len(trials),
            "mean_ratio": round(sum(ratios) / len(ratios), 4) if ratios else None,
            "ratios": len(ratios),
            "missing_executed": sum(r["executed_s"] is None for r in trials),
            "missing_imagined": sum(r["imagined_s"] is None for r in trials),
            "intact_moved": sum(bool(r.get("intact_moved")) for r in trials),
            "mean_visual": round(sum(vis) / len(vis), 3) if vis else None,
            "mean_kinesthetic": round(sum(kin) / len(kin), 3) if kin else None,
            "progression": progression,
            # the level the next block / session starts at (vrgmi.progress)
            "carry_over": {"imagery.level": progression["suggested_level"]},
        }
