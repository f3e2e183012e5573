"""The laterality task as a state machine on the display clock (no rendering).

Each frame the scene calls :meth:`LateralityTask.update` with the frame's predicted display
time ``t`` and the patient's inputs, then draws what :attr:`phase` says. A trial runs

    fixation (iti +- jitter)  ->  stimulus (onset = t of the first frame that draws it)
    -> [exposure over: stimulus hidden, answer still taken]  ->  answer or time limit
    -> feedback (tick / cross, when on)  ->  next fixation, or the rest between blocks

* RT = ``answer.t - onset`` in ms: both on the display clock, so it does not depend on
  when the code ran; an answer arriving in a later frame keeps its own time.
* An answer at or before the onset is an anticipation: counted, never scored.
* No answer by ``onset + time_limit`` is a timeout, scored as wrong.
* A gap of more than :data:`MAX_FRAME_GAP_S` between frames during a trial (the session
  was paused) voids the trial: it is run again with the same stimulus after a fixation.

The first block starts, and each later block continues, when the patient answers (left,
right or select) on the intro / rest screen, so no one is rushed between blocks.

With ``probe_trials`` > 0 the session opens with the probe (:mod:`vrgmi.laterality.probe`):
block 0, at the fixed reference difficulty, no staircase, no feedback, its trials marked
``"probe": true``; the training blocks (1 .. ``blocks``) follow. The laterality gate judges
the probe only (:func:`vrgmi.session.session_summary`).

With ``practice_trials`` > 0 a practice block comes first of all (block -1): drawn at the
staircase's start level, always with feedback, its trials marked ``"practice": true`` and
kept apart (:attr:`LateralityTask.practice`): never fed to the staircase, never in a block's
or the session's figures. A rest screen follows it before the scored blocks begin.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.input import InputEvent
from vrgmi.laterality.analysis import figures, session_figures
from vrgmi.laterality.norms import norms_for, norms_table
from vrgmi.laterality.probe import PROBE_TIME_LIMIT_MS, probe_plan
from vrgmi.laterality.staircase import DifficultyMap, WeightedUpDown
from vrgmi.laterality.stimuli import LIMBS, Stimulus, StimulusGenerator, StimulusRanges
from vrgmi.settings import NormsSettings

PHASES = ("intro", "fixation", "stimulus", "response", "feedback", "rest", "done")
ANSWERS = ("left", "right")
#: inputs that start a block from the intro or rest screen
CONTINUE = ("left", "right", "select")
#: a longer gap between frames during a trial means the session was paused: void it
MAX_FRAME_GAP_S = 0.5
#: the rest screen ignores answers for this long, so a late answer does not skip it
MIN_REST_S = 1.0


class TaskError(VrgmiError, ValueError):
    """A laterality task setting is wrong."""


@dataclass(frozen=True)
class TaskConfig:
    """Everything the task needs; times in ms. ``exposure_ms`` 0 = shown until the answer.
    With ``adaptive`` the staircase sets the rotation range (from ``angle_step_deg`` up to
    ``rotation_max_deg``) and then the exposure (down to ``min_exposure_ms``).
    ``probe_trials`` (0 or an even number): the probe block that opens the session;
    ``norms``: the ``[norms]`` settings (None: their defaults); ``seed``: the block's seed."""

    limbs: tuple[str, ...] = ("hand",)
    block_length: int = 20
    blocks: int = 3
    exposure_ms: float = 0.0
    min_exposure_ms: float = 500.0
    time_limit_ms: float = 5000.0
    feedback: bool = True
    feedback_ms: float = 700.0
    rotation_max_deg: float = 180.0
    angle_step_deg: float = 30.0
    axes: str = "in_plane"
    views: str = "both"
    postures: str = "all"
    context: bool = False
    adaptive: bool = True
    target_accuracy: float = 0.80
    start_level: float = 0.0
    iti_ms: float = 1000.0
    iti_jitter_ms: float = 500.0
    affected_side: str | None = None
    probe_trials: int = 0
    practice_trials: int = 0
    norms: NormsSettings | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.limbs or any(limb not in LIMBS for limb in self.limbs):
            raise TaskError(f"laterality limbs {self.limbs!r} must be hand and/or foot")
        if self.block_length < 1 or self.blocks < 1:
            raise TaskError("laterality needs at least one block of at least one trial")
        if self.time_limit_ms <= 0 or self.iti_ms < 0 or self.iti_jitter_ms < 0:
            raise TaskError("laterality times must be positive")
        if self.iti_jitter_ms > self.iti_ms:
            raise TaskError(f"fixation jitter {self.iti_jitter_ms:g} ms must not exceed the "
                            f"interval {self.iti_ms:g} ms")
        if self.practice_trials < 0:
            raise TaskError(f"practice length {self.practice_trials!r} must be 0 or more")
        if self.probe_trials < 0 or self.probe_trials % 2:
            raise TaskError(f"probe length {self.probe_trials!r} must be 0 (no probe) or an "
                            "even number of trials (as many left as right)")
        if self.exposure_ms > self.time_limit_ms:
            raise TaskError(f"exposure {self.exposure_ms:g} ms is longer than the time limit "
                            f"{self.time_limit_ms:g} ms")

    @property
    def total_blocks(self) -> int:
        """The training blocks, plus one when the session opens with the probe."""
        return self.blocks + (1 if self.probe_trials else 0)

    def ranges(self, rotation_max_deg: float) -> StimulusRanges:
        """The stimulus ranges with this rotation range."""
        return StimulusRanges(self.limbs, self.postures, self.views, self.axes,
                              rotation_max_deg, self.angle_step_deg, self.context)

    def difficulty_map(self) -> DifficultyMap:
        """The staircase's level -> (rotation range, exposure) map."""
        easy_rot = min(self.angle_step_deg, self.rotation_max_deg)
        easy_exp = self.exposure_ms
        hard_exp = min(self.min_exposure_ms, easy_exp or self.time_limit_ms)
        return DifficultyMap(easy_rot, self.rotation_max_deg, easy_exp, hard_exp,
                             self.time_limit_ms)


class LateralityTask:
    """One session of the laterality task. ``on_trial(record)`` and ``on_block(block,
    figures)`` are called as trials and blocks complete."""

    def __init__(self, config: TaskConfig,
                 on_trial: Callable[[dict[str, Any]], None] | None = None,
                 on_block: Callable[[int, dict[str, Any]], None] | None = None) -> None:
        self.config = config
        self.on_trial = on_trial or (lambda _r: None)
        self.on_block = on_block or (lambda _b, _f: None)
        self.generator = StimulusGenerator(config.seed)
        self.staircase = WeightedUpDown(config.target_accuracy, level=config.start_level)
        self.map = config.difficulty_map()
        self.phase = "intro"
        self.block = -1 if config.practice_trials else 0
        self.trials: list[dict[str, Any]] = []
        self.practice: list[dict[str, Any]] = []     # practice trials, never scored
        self.stimulus: Stimulus | None = None
        self.feedback: str | None = None      # "correct" | "wrong" | "timeout"
        self.anticipations = 0
        self.voided = 0
        self.onset: float | None = None
        self.exposure_ms = 0.0
        self.rotation_max_deg = 0.0
        self.time_limit_ms = config.time_limit_ms
        self._probe: list[Stimulus] = []
        self._in_block = 0
        self._until = 0.0                     # end of the fixation / feedback / rest wait
        self._last_t: float | None = None
        self._trial_anticipations = 0

    @property
    def finished(self) -> bool:
        """True once every block is done."""
        return self.phase == "done"

    @property
    def stimulus_visible(self) -> bool:
        """Whether this frame draws the stimulus."""
        return self.phase == "stimulus"

    @property
    def probing(self) -> bool:
        """True during the probe block (the first block when ``probe_trials`` > 0)."""
        return self.config.probe_trials > 0 and self.block == 0

    @property
    def practicing(self) -> bool:
        """True during the practice block (block -1)."""
        return self.block < 0

    @property
    def level(self) -> float:
        """The staircase level (0 easiest .. 1 hardest)."""
        return self.staircase.level

    def reconfigure(self, config: TaskConfig) -> None:
        """Apply changed settings from the next trial on (the staircase keeps its level)."""
        self.config = config
        self.map = config.difficulty_map()
        self.staircase.target = config.target_accuracy
        if self.phase == "rest" and self.block >= config.total_blocks:
            self.phase = "done"

    def update(self, t: float, inputs: Iterable[InputEvent]) -> None:
        """Advance to display time ``t`` (s) with this frame's inputs (oldest first)."""
        gap = self._last_t is not None and t - self._last_t > MAX_FRAME_GAP_S
        self._last_t = t                      # the frame time: feedback and fixations start here
        if gap and self.phase in ("stimulus", "response"):
            self.voided += 1
            self._start_fixation(t, keep_stimulus=True)
            return
        for event in inputs:
            self._on_input(event)
        self._on_time(t)

    def _on_input(self, event: InputEvent) -> None:
        phase = self.phase
        if phase in ("intro", "rest"):
            if event.action in CONTINUE and event.t >= self._until:
                self._start_block(self._last_t)
        elif event.action not in ANSWERS or phase in ("feedback", "done"):
            return
        elif phase == "fixation" or event.t <= self.onset:
            self.anticipations += 1
            self._trial_anticipations += 1
        elif event.t <= self.onset + self.time_limit_ms / 1000.0:
            self._finish_trial(event.t, event.action)

    def _on_time(self, t: float) -> None:
        phase = self.phase
        if phase == "fixation" and t >= self._until:
            self._show_stimulus(t)
        elif phase in ("stimulus", "response"):
            if t >= self.onset + self.time_limit_ms / 1000.0:
                self._finish_trial(t, None)
            elif (phase == "stimulus" and self.exposure_ms > 0.0
                  and t >= self.onset + self.exposure_ms / 1000.0):
                self.phase = "response"
        elif phase == "feedback" and t >= self._until:
            self._next(t)

    def _block_length(self) -> int:
        if self.practicing:
            return self.config.practice_trials
        return self.config.probe_trials if self.probing else self.config.block_length

    def _start_block(self, t: float) -> None:
        self._in_block = 0
        if self.probing:
            self._probe = probe_plan(self.config.probe_trials, self.config.limbs,
                                     self.generator.rng)
        else:
            self.generator.new_block(self._block_length(), self.config.limbs)
        self._start_fixation(t)

    def _start_fixation(self, t: float, keep_stimulus: bool = False) -> None:
        cfg = self.config
        if not keep_stimulus and self.probing:
            self.rotation_max_deg, self.exposure_ms = 180.0, 0.0
            self.time_limit_ms = PROBE_TIME_LIMIT_MS
            self.stimulus = self._probe.pop(0)
            self._trial_anticipations = 0
        elif not keep_stimulus:
            self.time_limit_ms = cfg.time_limit_ms
            level = self.staircase.level
            if cfg.adaptive:
                self.rotation_max_deg = self.map.rotation_max_deg(level)
                self.exposure_ms = self.map.exposure_ms(level)
            else:
                self.rotation_max_deg, self.exposure_ms = cfg.rotation_max_deg, cfg.exposure_ms
            self.stimulus = self.generator.next(cfg.ranges(self.rotation_max_deg))
            self._trial_anticipations = 0
        jitter = self.generator.rng.uniform(-cfg.iti_jitter_ms, cfg.iti_jitter_ms)
        self._until = t + (cfg.iti_ms + jitter) / 1000.0
        self.onset = None
        self.feedback = None
        self.phase = "fixation"

    def _show_stimulus(self, t: float) -> None:
        self.onset = t
        self.phase = "stimulus"

    def _finish_trial(self, t: float, answer: str | None) -> None:
        """Score the answer given at display time ``t`` (None: timed out at ``t``)."""
        cfg, stim = self.config, self.stimulus
        timeout = answer is None
        correct = answer == stim.side
        probe, practice = self.probing, self.practicing
        record = {"index": len(self.practice if practice else self.trials), "block": self.block,
                  "trial_in_block": self._in_block, "probe": probe, "practice": practice,
                  **stim.describe(),
                  "onset_t": self.onset, "response_t": None if timeout else t,
                  "rt_ms": None if timeout else round(1000.0 * (t - self.onset), 3),
                  "answer": answer, "correct": correct, "timeout": timeout,
                  "exposure_ms": self.exposure_ms, "time_limit_ms": self.time_limit_ms,
                  "rotation_max_deg": round(self.rotation_max_deg, 3),
                  "level": round(self.staircase.level, 4),
                  "anticipations": self._trial_anticipations}
        (self.practice if practice else self.trials).append(record)
        if cfg.adaptive and not probe and not practice:
            self.staircase.update(correct)
        self._in_block += 1
        self.on_trial(record)
        now = self._last_t                    # the frame that learns of the answer
        if (cfg.feedback or practice) and not probe:
            self.feedback = "timeout" if timeout else "correct" if correct else "wrong"
            self.phase = "feedback"
            self._until = now + cfg.feedback_ms / 1000.0
        else:
            self._next(now)

    def _next(self, t: float) -> None:
        if self._in_block < self._block_length():
            self._start_fixation(t)
            return
        if self.practicing:                   # practice over: rest, then the scored blocks
            self.block, self.stimulus, self.feedback = 0, None, None
            self.phase, self._until = "rest", t + MIN_REST_S
            return
        block_trials = [r for r in self.trials if r["block"] == self.block]
        self.on_block(self.block, self.block_figures(block_trials))
        self.block += 1
        self.stimulus = None
        self.feedback = None
        if self.block >= self.config.total_blocks:
            self.phase = "done"
        else:
            self.phase = "rest"
            self._until = t + MIN_REST_S

    def block_figures(self, trials: list[dict[str, Any]]) -> dict[str, Any]:
        """The analysis figures of one block's trials."""
        limbs = {r["limb"] for r in trials}
        norms = {norms_for(limb, settings=self.config.norms) for limb in limbs}
        return figures(trials, norms.pop() if len(norms) == 1 else None,
                       self.config.affected_side)

    def summary(self) -> dict[str, Any]:
        """Session figures (:func:`vrgmi.laterality.analysis.session_figures`; ``probe``:
        the probe block's figures against the norms, None without a probe) and the task's
        counters; the final ``level`` can seed the next session's staircase."""
        out: dict[str, Any] = {"trials": len(self.trials), "blocks_done": max(self.block, 0),
                               "practice_trials": len(self.practice),
                               "level": round(self.staircase.level, 4),
                               "anticipations": self.anticipations, "voided": self.voided}
        if self.trials:
            out.update(session_figures(self.trials, self.config.affected_side,
                                       norms_table(self.config.norms)))
            probe = [r for r in self.trials if r["probe"]]
            out["probe"] = self.block_figures(probe) if probe else None
        return out
