"""What a patient carries from one session to the next: the imagery level, the laterality
staircase's start level and the mirror level (docs/program.md "Progression"). No Panda3D.

The levels live in the patient's program (:attr:`vrgmi.program.Program.progress`, a dict of
the :data:`KEYS`), which the records keep with the program (``programs.spec``,
:mod:`vrgmi.records.programs`), so they survive between sessions and stations.

* At a block's start the runner gives the scene its carried level as a difficulty value
  (:func:`carried_params`: a scene names the keys it reads in ``carry_over``, key ->
  parameter); a value the program's step sets itself wins.
* When a scene ends its summary may hold ``"carry_over": {key: value}``: the imagery scene's
  suggested level (:func:`vrgmi.imagery.progression.suggest_level`), the laterality
  scene's next start level (:func:`vrgmi.laterality.staircase.next_session_start`);
  :func:`after_scene` takes them, so the next block already uses them.
* When the session ends :func:`after_session` decides the mirror level from the session's
  mirror trials (:func:`vrgmi.mirror.progression.suggest_mirror_level`) and, after a pain
  flare or a session that ended early (an emergency stop, the patient's stop, the headset
  taken off), keeps every level at most where the session started: such a session never
  advances anyone.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from vrgmi.mirror.progression import suggest_mirror_level

LATERALITY = "laterality.level"
IMAGERY = "imagery.level"
MIRROR = "mirror.level"
#: every carried key and its allowed range (laterality: the staircase level 0..1; the
#: others: level numbers)
KEYS: dict[str, tuple[float, float]] = {LATERALITY: (0.0, 1.0), IMAGERY: (1, 3),
                                        MIRROR: (1, 20)}
#: where a patient without a stored level starts
START = {LATERALITY: 0.0, IMAGERY: 1, MIRROR: 1}


def check_progress(progress: Any) -> str | None:
    """Why ``progress`` is not a valid carried-levels table (one line), or None."""
    if not isinstance(progress, Mapping):
        return "progress must be a table of level values"
    for key, value in progress.items():
        if key not in KEYS:
            return f"progress has unknown key {key!r} (keys: {', '.join(KEYS)})"
        lo, hi = KEYS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or not lo <= value <= hi:
            return f"progress.{key} = {value!r} must be a number {lo:g}..{hi:g}"
        if key != LATERALITY and value != int(value):
            return f"progress.{key} = {value!r} must be a whole level"
    return None


def level(progress: Mapping[str, Any], key: str) -> Any:
    """The carried value of ``key``, or where a new patient starts."""
    return progress.get(key, START[key])


def carried_params(scene_cls: type, progress: Mapping[str, Any]) -> dict[str, Any]:
    """The difficulty values a block of ``scene_cls`` starts with from ``progress``."""
    wanted: Mapping[str, str] = getattr(scene_cls, "carry_over", {}) or {}
    return {param: progress[key] for key, param in wanted.items() if key in progress}


def after_scene(progress: Mapping[str, Any], summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """``progress`` with the ``carry_over`` values of a finished scene's ``summary``."""
    out = dict(progress)
    carried = (summary or {}).get("carry_over") or {}
    for key, value in carried.items():
        if key in KEYS and value is not None:
            lo, hi = KEYS[key]
            out[key] = min(hi, max(lo, value if key == LATERALITY else int(value)))
    return out


def mirror_trials(events: Iterable[Any]) -> list[dict[str, Any]]:
    """The ``trial`` events of the mirror-phase scenes among ``events`` (Event objects or
    dicts), each as its data plus ``scene``."""
    phases: dict[str, str] = {}
    out = []
    for e in events:
        kind, scene, data = _parts(e)
        if kind == "scene_started":
            phases[scene] = str(data.get("phase", ""))
        elif kind == "trial" and phases.get(scene) == "mirror" and not data.get("practice"):
            out.append(dict(data, scene=scene))
    return out


def after_session(progress: Mapping[str, Any], started: Mapping[str, Any],
                  events: Iterable[Any], phase: str, top_mirror_level: int,
                  hold: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The carried levels after a session, and the mirror decision (None outside the mirror
    phase). ``progress`` holds the levels after the session's scenes, ``started`` those it
    began with; with a ``hold`` reason (a pain flare, an early end) no level ends above
    where it started."""
    out = dict(progress)
    decision = None
    if phase == "mirror":
        current = int(level(started, MIRROR))
        decision = suggest_mirror_level(mirror_trials(events), current, top_mirror_level)
        out[MIRROR] = decision["suggested_level"]
    if hold:
        for key in KEYS:
            if key in out:
                out[key] = min(out[key], level(started, key))
        if decision is not None and decision["advice"] == "up":
            decision = dict(decision, suggested_level=current, advice="hold",
                            reason=f"{hold}: the level is held")
    return out, decision


def _parts(e: Any) -> tuple[str, str, Mapping[str, Any]]:
    if isinstance(e, Mapping):
        return str(e.get("kind", "")), str(e.get("scene", "")), e.get("data") or {}
    return e.kind, e.scene, e.data or {}
