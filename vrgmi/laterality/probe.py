"""The probe: a short laterality block at a fixed reference difficulty, the measure the
laterality gate judges against the norms (docs/laterality.md, "The probe").

The staircase keeps the training blocks near its target accuracy (80 % by default), so their
accuracy says more about the staircase than about the patient; the NOI norms (accuracy >= 80
%, RT 2.0 +/- 0.5 s) describe performance on a fixed, mixed set of pictures. So every
laterality session opens with a probe block whose stimuli are always the same kind:

* in-plane rotations of 0, +-60, +-120 and 180 deg, evenly around the clock (RT grows with
  the angle from upright: Parsons 1987, 1994), the same mix of easy and hard angles in
  every probe; no rotation in depth;
* both views (back / palm of the hand, top / sole of the foot), the plain posture (open
  hand, neutral foot), no context object;
* shown until the answer, within :data:`PROBE_TIME_LIMIT_MS`, no feedback, no staircase;
* exactly as many left as right pictures, each angle equally often per side, views and
  limbs balanced (:func:`probe_plan`), in an order shuffled by the block's seeded generator.

No Panda3D here.
"""
from __future__ import annotations

import numpy as np

from vrgmi.laterality.stimuli import SIDES, VIEWS, Stimulus

#: the reference orientations (in-plane degrees, right-limb convention)
PROBE_ANGLES_DEG = (0.0, 60.0, -60.0, 120.0, -120.0, 180.0)
#: the plain posture per limb
PROBE_POSTURES = {"hand": "open", "foot": "neutral"}
#: time to answer a probe picture (ms); no answer by then is a timeout (wrong)
PROBE_TIME_LIMIT_MS = 5000.0
#: the default probe length: 2 sides x 2 views x 6 angles
PROBE_TRIALS = 24


def probe_plan(n: int, limbs: tuple[str, ...], rng: np.random.Generator) -> list[Stimulus]:
    """``n`` (even) probe stimuli for ``limbs``, balanced and shuffled by ``rng``.

    Trial ``i`` of the unshuffled plan: side alternates fastest, then limb, then angle;
    the view alternates with the angle and flips on each pass through the angles, so with
    one limb 24 trials are the full 2 x 6 x 2 design."""
    count = len(limbs)
    plan = []
    for i in range(n):
        k = i // (2 * count)                      # the angle slot
        limb = limbs[(i // 2) % count]
        view = VIEWS[limb][(k + k // len(PROBE_ANGLES_DEG)) % 2]
        angle = PROBE_ANGLES_DEG[k % len(PROBE_ANGLES_DEG)]
        plan.append(Stimulus(limb, SIDES[i % 2], PROBE_POSTURES[limb], view, (angle, 0.0, 0.0)))
    return [plan[i] for i in rng.permutation(n)]
