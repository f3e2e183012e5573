"""Which condition each of a patient's sessions runs, and the codes that blind it (no Panda3D).

A program's :class:`StudyPlan` names the conditions the patient is randomised among. The
schedule is permuted blocks: every ``block_size`` sessions hold each condition equally
often, in an order drawn from a generator seeded by the study seed, the patient id and the
block number, so it is reproducible and differs between patients. Each condition has a
code per patient (letters and digits from the same seed): the patient, the therapist, the
companion and blinded exports see only the code; the program (``allocations``) and the
records keep which condition it was. docs/study-conditions.md.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.study.conditions import CONDITIONS

#: code characters: no 0/O, 1/I/L, no vowels (no words, nothing that reads as a condition)
CODE_ALPHABET = "23456789BCDFGHJKMNPQRSTVWXZ"


class StudyPlanError(VrgmiError, ValueError):
    """A study plan value is wrong (one line naming the key)."""


@dataclass
class StudyPlan:
    """A patient's randomised study conditions. ``seed`` is the study's (recorded with each
    allocation); ``delay_s`` None = the ``[study]`` setting. ``allocations`` is every
    session's allocation so far (session, index, code, condition, seed)."""

    conditions: list[str] = field(default_factory=lambda: ["mirror", "delayed"])
    block_size: int = 0                   # 0 = one of each condition per block
    seed: int = 1
    delay_s: float | None = None
    allocations: list[dict[str, Any]] = field(default_factory=list)


def check_study(plan: Any, max_delay_s: float = 3.0) -> None:
    """One-line :class:`StudyPlanError` for the first bad value of ``plan``."""
    if not isinstance(plan, StudyPlan):
        raise StudyPlanError("program: study must be a table (conditions, seed, ...)")
    c = plan.conditions
    if not isinstance(c, list) or not c or len(set(map(str, c))) != len(c) \
            or not all(isinstance(x, str) and x in CONDITIONS for x in c):
        raise StudyPlanError(f"program: study.conditions must be distinct names among "
                             f"{', '.join(CONDITIONS)}")
    for key, lo, hi in (("block_size", 0, 120), ("seed", 0, 2 ** 63 - 1)):
        v = getattr(plan, key)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise StudyPlanError(f"program: study.{key} = {str(v)[:24]} must be a whole "
                                 f"number {lo}..{hi}")
    if plan.block_size % len(c):
        raise StudyPlanError(f"program: study.block_size = {plan.block_size} must be a "
                             f"multiple of the {len(c)} conditions")
    d = plan.delay_s
    if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float))
                          or not math.isfinite(d) or not 0.0 < d <= max_delay_s):
        raise StudyPlanError(f"program: study.delay_s = {str(d)[:20]} must be a number "
                             f"above 0 and at most {max_delay_s:g}")
    if not isinstance(plan.allocations, list) or not all(isinstance(a, dict)
                                                         for a in plan.allocations):
        raise StudyPlanError("program: study.allocations must be a list of tables")


def _rng(seed: int, patient: str, what: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{patient}:{what}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def condition_codes(plan: StudyPlan, patient: str, length: int = 4) -> dict[str, str]:
    """condition -> its code for ``patient`` (distinct, drawn from the study seed)."""
    rng = _rng(plan.seed, patient, "codes")
    codes: dict[str, str] = {}
    for name in plan.conditions:
        while True:
            code = "".join(CODE_ALPHABET[int(i)] for i in rng.integers(len(CODE_ALPHABET),
                                                                        size=length))
            if code not in codes.values():
                codes[name] = code
                break
    return codes


def schedule(plan: StudyPlan, patient: str, sessions: int) -> list[str]:
    """The conditions of the patient's first ``sessions`` sessions (permuted blocks)."""
    size = plan.block_size or len(plan.conditions)
    block = [c for c in plan.conditions for _ in range(size // len(plan.conditions))]
    out: list[str] = []
    b = 0
    while len(out) < sessions:
        order = _rng(plan.seed, patient, f"block{b}").permutation(len(block))
        out += [block[int(i)] for i in order]
        b += 1
    return out[:sessions]


def allocate(plan: StudyPlan, patient: str, session: str, code_length: int = 4) -> dict[str, Any]:
    """The next session's allocation (appended to ``plan.allocations``): index, session,
    condition, code, seed."""
    index = len(plan.allocations)
    condition = schedule(plan, patient, index + 1)[index]
    entry = {"index": index, "session": session, "condition": condition,
             "code": condition_codes(plan, patient, code_length)[condition],
             "seed": plan.seed}
    plan.allocations.append(entry)
    return entry

