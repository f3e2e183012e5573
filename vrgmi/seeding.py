"""Per-session random seeds: every session draws its own, every block derives its own.

A session's seed is drawn from the operating system's entropy (:mod:`secrets`) when the
session starts, unless a setting (``session.seed``, ``vrgmi session --seed N``) fixes it to
replay a recorded session exactly. It is recorded with the session (the ``session_started``
event and the ``sessions.seed`` column). Block ``k`` of the session (the k-th scene started)
gets the child seed ``SeedSequence(seed, spawn_key=(k,))`` (NumPy's own way of spawning
independent streams), so the blocks of one session differ from each other and from every
other session's, and the same session seed gives the same blocks trial by trial.
No Panda3D here.
"""
from __future__ import annotations

import secrets

import numpy as np

#: seeds are 1 .. MAX_SEED (63 bits: a signed 64-bit database integer holds every one);
#: 0 in the settings means "draw a fresh one"
MAX_SEED = 2 ** 63 - 1


def draw_session_seed() -> int:
    """A fresh session seed, 1 .. :data:`MAX_SEED`, from the operating system's entropy."""
    return 1 + secrets.randbelow(MAX_SEED)


def block_seed(session_seed: int, block: int) -> int:
    """The seed of block ``block`` (0, 1, ...) of the session seeded ``session_seed``."""
    state = np.random.SeedSequence(session_seed, spawn_key=(block,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))
