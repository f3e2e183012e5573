"""The adaptive staircase of the laterality task: a weighted up-down rule (Kaernbach 1991,
"Simple adaptive testing with the weighted up-down method", Perception & Psychophysics
49:227-229) on one difficulty level, mapped to the rotation range and the exposure time.

Rule: after a correct answer the level goes up (harder) by ``step_up``; after a wrong answer
or a timeout it goes down (easier) by ``step_down = step_up * p / (1 - p)``, clamped to
0..1. The level stops drifting where ``P(correct) * step_up = P(wrong) * step_down``, i.e.
where ``P(correct) = p``: for the default target p = 0.80 (the normal accuracy in
CLINICAL.md) a wrong answer steps down 4 times as far as a correct one steps up.

Why this rule: the transformed up-down rules only reach fixed points (1-up/2-down 70.7%,
1-up/3-down 79.4%, 1-up/4-down 84.1%), while the weighted rule targets any p in (0.5, 1),
so the therapist's ``target_accuracy`` is the point it converges on; and it moves after
every trial, which matters in blocks of 10-30 stimuli. Its long-run accuracy is p by
construction: the steps sum to (final level - first level), which is bounded, so
``correct * step_up - wrong * step_down`` stays within 1 and the fraction correct over N
trials is within ``1 / (N * (step_up + step_down))`` of p unless the level sits at a bound
(a task too easy or too hard for every level).

Difficulty map (:class:`DifficultyMap`): level 0..``split`` widens the rotation range from
``rotation_easy_deg`` to ``rotation_hard_deg`` with the exposure at its easiest; level
``split``..1 keeps the widest range and shortens the exposure from ``exposure_easy_ms``
to ``exposure_hard_ms`` (0 = shown until the answer, taken as ``time_limit_ms`` in the ramp).
Both levers are monotonic in the level.

Step size (:data:`STEP_UP`, docs/laterality.md): 0.005 a correct answer (0.02 back after an
error at p = 0.80). The rotation range is full (+-180 deg) at level ``split`` = 0.5, so a
patient who is always right gets there after 100 answers, one at 90 % after about 200
(net drift 0.9 x 0.005 - 0.1 x 0.02 = 0.0025 a trial), one at 85 % after about 500: the
first day or two of a program at 120 answers a session, as the graded protocol intends
(Moseley 2004, 2006), where the earlier 0.025 reached it after 20 correct answers.

Carry-over (:func:`next_session_start`): the next session starts two error-steps below the
level the last one ended at (0.04, 12 deg of rotation range): a short easier warm-up, and
the staircase is back at the patient's level within a few correct answers. No Panda3D here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from vrgmi.errors import VrgmiError


#: the level gained after a correct answer (see the module docstring)
STEP_UP = 0.005
#: the next session starts this many error-steps (``step_down``) below the last level
CARRY_OVER_STEPS_DOWN = 2


class StaircaseError(VrgmiError, ValueError):
    """A staircase or difficulty map setting is out of range."""


@dataclass
class WeightedUpDown:
    """Weighted up-down staircase on a level in 0..1 (1 = hardest)."""

    target: float = 0.80
    step_up: float = STEP_UP
    level: float = 0.0
    history: list[float] = field(default_factory=list)
    reversals: int = 0
    _last_direction: int = 0

    def __post_init__(self) -> None:
        if not 0.5 < self.target < 1.0:
            raise StaircaseError(f"staircase target {self.target!r} must be between 0.5 "
                                 "(chance in a two-choice task) and 1")
        if not 0.0 < self.step_up <= 0.5:
            raise StaircaseError(f"staircase step {self.step_up!r} must be in 0..0.5")
        if not 0.0 <= self.level <= 1.0:
            raise StaircaseError(f"staircase start level {self.level!r} is outside 0..1")

    @property
    def step_down(self) -> float:
        """The step after a wrong answer: ``step_up * p / (1 - p)``."""
        return self.step_up * self.target / (1.0 - self.target)

    def update(self, correct: bool) -> float:
        """Record one answer (a timeout counts as wrong); returns the new level."""
        direction = 1 if correct else -1
        if self._last_direction and direction != self._last_direction:
            self.reversals += 1
        self._last_direction = direction
        step = self.step_up if correct else -self.step_down
        self.history.append(self.level)
        self.level = min(1.0, max(0.0, self.level + step))
        return self.level


def next_session_start(level: float, target: float = 0.80, step_up: float = STEP_UP) -> float:
    """Where the next session's staircase starts after one that ended at ``level``:
    :data:`CARRY_OVER_STEPS_DOWN` error-steps lower, at least 0."""
    down = WeightedUpDown(target, step_up).step_down
    return round(max(0.0, float(level) - CARRY_OVER_STEPS_DOWN * down), 4)


@dataclass(frozen=True)
class DifficultyMap:
    """Level (0..1) -> (rotation range in degrees, exposure in ms; 0 = until the answer)."""

    rotation_easy_deg: float = 30.0
    rotation_hard_deg: float = 180.0
    exposure_easy_ms: float = 0.0
    exposure_hard_ms: float = 500.0
    time_limit_ms: float = 5000.0
    split: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.rotation_easy_deg <= self.rotation_hard_deg <= 180.0:
            raise StaircaseError(f"rotation range {self.rotation_easy_deg!r}.."
                                 f"{self.rotation_hard_deg!r} deg must rise within 0..180")
        if self.time_limit_ms <= 0.0:
            raise StaircaseError(f"time limit {self.time_limit_ms!r} ms must be positive")
        easy = self.exposure_easy_ms or self.time_limit_ms
        if not 0.0 < self.exposure_hard_ms <= easy:
            raise StaircaseError(f"hardest exposure {self.exposure_hard_ms!r} ms must be "
                                 f"positive and at most the easiest ({easy:g} ms)")
        if not 0.0 < self.split < 1.0:
            raise StaircaseError(f"difficulty split {self.split!r} must be inside 0..1")

    def rotation_max_deg(self, level: float) -> float:
        """The rotation range (deg) at ``level``."""
        u = min(1.0, max(0.0, level / self.split))
        return self.rotation_easy_deg + u * (self.rotation_hard_deg - self.rotation_easy_deg)

    def exposure_ms(self, level: float) -> float:
        """The exposure (ms, 0 = until the answer) at ``level``."""
        u = min(1.0, max(0.0, (level - self.split) / (1.0 - self.split)))
        if u <= 0.0:
            return self.exposure_easy_ms
        easy = self.exposure_easy_ms or self.time_limit_ms
        return easy + u * (self.exposure_hard_ms - easy)
