"""Sets of laterality stimuli to print or show outside the game (``vrgmi stimuli``).

* :func:`canonical_set`: every limb x side x view x posture, upright (0 deg): the posture
  set the game draws from without objects (``POSTURE_SETS["all"]``).
* :func:`sample_set`: ``count`` stimuli from the game's own generator
  (:class:`~vrgmi.laterality.stimuli.StimulusGenerator`, one block of ``count`` with the
  game's default ranges), so a seed gives the same pictures here as a block of the game
  seeded alike: half left, half right, limbs and views balanced, in-plane rotations in
  30 deg steps.
* :func:`index_entry`: what ``index.json`` says of one picture.

No Panda3D here.
"""
from __future__ import annotations

from vrgmi.laterality.stimuli import (POSTURE_SETS, SIDES, VIEWS, Stimulus, StimulusError,
                                      StimulusGenerator, StimulusRanges)

#: how many pictures a sample may have
COUNT_RANGE = (1, 500)


def canonical_set(limbs: tuple[str, ...]) -> list[Stimulus]:
    """Every limb x side x view x posture of ``limbs``, at 0 deg."""
    return [Stimulus(limb, side, posture, view)
            for limb in limbs for view in VIEWS[limb]
            for posture in POSTURE_SETS["all"][limb] for side in SIDES]


def sample_set(limbs: tuple[str, ...], count: int, seed: int) -> list[Stimulus]:
    """``count`` stimuli drawn as the game draws one block of that length with ``seed``."""
    lo, hi = COUNT_RANGE
    if not lo <= count <= hi:
        raise StimulusError(f"stimulus count {count} is outside {lo}..{hi}")
    ranges = StimulusRanges(limbs=limbs)
    generator = StimulusGenerator(seed)
    generator.new_block(count, limbs)
    return [generator.next(ranges) for _ in range(count)]


def index_entry(file: str, stimulus: Stimulus) -> dict:
    """One picture's line in ``index.json``: its file and the stimulus's parameters (the
    keys of a game trial's record: limb, side, view, posture, axes, angles (in-plane, turn,
    tilt; deg, right-limb convention), rotation_deg, medial_lateral, context)."""
    return {"file": file, **stimulus.describe()}
