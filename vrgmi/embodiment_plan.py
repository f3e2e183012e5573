"""Where a session's embodiment measures go: around its mirror blocks (docs/embodiment.md).

With ``embodiment.drift_every = N``, every N-th mirror block of a session gets the
proprioceptive drift task right before it (part ``measure_pre``) and right after it (part
``measure``), both with the block's number as ``pair``; with
``embodiment.questionnaire_every = N`` every N-th mirror block is followed by the embodiment
questionnaire (after the drift task, so the felt position is taken first). Measure blocks
run until they finish: the session's minutes, caps and break offers are for the blocks
around them (:class:`vrgmi.session.SessionRunner`). No rendering.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

MEASURE_PRE, MEASURE_POST = "measure_pre", "measure"
MEASURE_PARTS = (MEASURE_PRE, MEASURE_POST)


def with_measures(blocks: list[Any], settings: Any, is_mirror: Callable[[str], bool],
                  make: Callable[..., Any]) -> list[Any]:
    """``blocks`` (the session's main blocks, in order) with the measure blocks inserted;
    ``settings`` the ``embodiment`` settings, ``is_mirror(scene)`` whether a scene is a
    mirror block, ``make(scene, params, part=...)`` a new block."""
    out: list[Any] = []
    k = 0
    for block in blocks:
        if not is_mirror(block.scene):
            out.append(block)
            continue
        k += 1
        drift = settings.drift_every > 0 and k % settings.drift_every == 0
        ask = settings.questionnaire_every > 0 and k % settings.questionnaire_every == 0
        if drift:
            out.append(make("proprioceptive_drift", {"moment": "pre", "pair": k},
                            part=MEASURE_PRE))
        out.append(block)
        if drift:
            out.append(make("proprioceptive_drift", {"moment": "post", "pair": k},
                            part=MEASURE_POST))
        if ask:
            out.append(make("embodiment", {"block": k}, part=MEASURE_POST))
    return out
