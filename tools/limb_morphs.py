"""MakeHuman's macro targets as the limbs' morph targets (docs/limb-rigs.md "Matched to the
patient").

MakeHuman builds a body from the base mesh plus its macro targets: per race, sex and age
group ``macrodetails/<race>-<sex>-<age>`` (gender and age), and per sex, age, muscle and
weight ``macrodetails/universal-<sex>-<age>-<muscle>-<weight>``. Its default body averages
the three races and the two sexes at the young adult (25 years), average muscle and
weight. Each morph here is one pole of one slider minus that default, everything else held
at the default, as a vertex offset of the base mesh (base.obj axes and units).
"""
from __future__ import annotations

import numpy as np

from mpfb_source import Source
from vrgmi.body.limb_shape import MORPH_NAMES

RACES = ("african", "asian", "caucasian")
SEXES = {"even": {"female": 0.5, "male": 0.5}, "female": {"female": 1.0},
         "male": {"male": 1.0}}
DEFAULT = dict(sex="even", age="young", muscle="averagemuscle", weight="averageweight")
#: morph name -> the slider pole it stands for
POLES = {"build_slim": {"weight": "minweight"}, "build_heavy": {"weight": "maxweight"},
         "muscle_low": {"muscle": "minmuscle"}, "muscle_high": {"muscle": "maxmuscle"},
         "sex_female": {"sex": "female"}, "sex_male": {"sex": "male"},
         "age_older": {"age": "old"}}
assert tuple(POLES) == MORPH_NAMES


class MacroBody:
    """Base-mesh offsets of MakeHuman macro bodies (targets read once each)."""

    def __init__(self, src: Source, count: int):
        self.src, self.count = src, count
        self._targets: dict[str, np.ndarray] = {}

    def _target(self, name: str) -> np.ndarray:
        if name not in self._targets:
            self._targets[name] = self.src.target(f"macrodetails/{name}", self.count)
        return self._targets[name]

    def offset(self, sex: str, age: str, muscle: str, weight: str) -> np.ndarray:
        """The macro targets' sum for a body (sex mixed as in ``SEXES``)."""
        out = np.zeros((self.count, 3))
        for s, share in SEXES[sex].items():
            for race in RACES:
                out += share / len(RACES) * self._target(f"{race}-{s}-{age}")
            out += share * self._target(f"universal-{s}-{age}-{muscle}-{weight}")
        return out


def morph_offsets(src: Source, count: int) -> dict[str, np.ndarray]:
    """Each of ``MORPH_NAMES``: its (count, 3) base-mesh offset from MakeHuman's default body."""
    body = MacroBody(src, count)
    default = body.offset(**DEFAULT)
    return {name: body.offset(**{**DEFAULT, **pole}) - default for name, pole in POLES.items()}
