"""A patient's limb shape as the limb models' morph weights and hand / foot scale.

The models carry MakeHuman's build, muscle, sex and age targets as glTF morph targets
(tools/make_limbs.py, named in ``MORPH_NAMES``); :func:`morph_weights` turns the
``[limb_shape]`` settings into their weights. Hand and foot size scale the hand (wrist
joint) or foot (ankle joint) skeleton, so the finger and toe joints stay inside their
knuckles (docs/limb-rigs.md "Matched to the patient"). NumPy only.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from vrgmi.settings import LimbShapeSettings

#: the morph targets of every limb model, in file order (each MakeHuman pole on its own)
MORPH_NAMES = ("build_slim", "build_heavy", "muscle_low", "muscle_high", "sex_female",
               "sex_male", "age_older")
#: the ``[limb_shape]`` settings a therapist may change
SHAPE_KEYS = tuple(f.name for f in dataclasses.fields(LimbShapeSettings))
#: MakeHuman's age scale: its young adult (the models' own shape) and its oldest body
YOUNG_ADULT_YEARS, OLDEST_YEARS = 25.0, 90.0
#: the joint whose subtree a hand or foot size scales
SIZE_JOINT = {"arm": "wrist", "leg": "ankle"}


def morph_weights(shape: LimbShapeSettings) -> np.ndarray:
    """The weights of ``MORPH_NAMES`` for ``shape`` (each in 0..1; a signed setting drives
    one pole or the other)."""
    age = (shape.age_years - YOUNG_ADULT_YEARS) / (OLDEST_YEARS - YOUNG_ADULT_YEARS)
    return np.array([max(0.0, -shape.build), max(0.0, shape.build),
                     max(0.0, -shape.muscle), max(0.0, shape.muscle),
                     max(0.0, -shape.sex), max(0.0, shape.sex),
                     min(1.0, max(0.0, age))])


def part_scale(limb: str, shape: LimbShapeSettings) -> float:
    """The hand (``arm``) or foot (``leg``) size factor."""
    return shape.hand_size if limb == "arm" else shape.foot_size
