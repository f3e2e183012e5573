"""Checking a therapist's command on the server, before anything reaches the engine.

A request is ``{"command": name, "args": {...}}``. It must name a command of
:data:`vrgmi.control.COMMANDS` with the arguments it takes, and every value must be in
bounds: difficulty values against the running scene's schema (:meth:`Param.check`), scenes
against the installed ones, patient side/level/height against the settings' own checks, a
``start``'s patient against the records' pseudonymous-id rule (and its ``override`` of the
sessions-per-day limit a boolean), a ``step_back`` from a phase that has one before it and
with a reason.
Anything else is a one-line :class:`CommandRejected`. No Panda3D here.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from vrgmi.control import COMMANDS, Command, CommandError
from vrgmi.errors import VrgmiError
from vrgmi.ids import PATIENT_ID_RULE, is_patient_id, shown_id
from vrgmi.scenes.base import PHASES
from vrgmi.scenes.schema import Param, SceneParamError

#: arguments a command cannot go without (the rest of COMMANDS[name] are optional)
REQUIRED: dict[str, tuple[str, ...]] = {
    "switch_scene": ("scene",), "set_param": ("name", "value"), "skin_tone": ("tone",),
    "gate_override": ("phase", "advance", "reason"), "step_back": ("reason",)}
MAX_TEXT = 500              # longest free text (an override reason)
MAX_NAME = 64               # longest scene / parameter / tone name


class CommandRejected(VrgmiError, ValueError):
    """A command was refused by the server (one line, safe to show the therapist)."""


def _text(command: str, key: str, value: Any, limit: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise CommandRejected(f"{command}: {key} must be text of 1-{limit} characters")
    return value.strip()


def param_from_description(d: dict[str, Any]) -> Param:
    """Rebuild a :class:`Param` from :meth:`Param.describe` output (as the status carries)."""
    return Param(name=d["name"], kind=d["kind"], default=d["default"], help=d.get("help", ""),
                 lo=d.get("lo"), hi=d.get("hi"), choices=tuple(d.get("choices", ())),
                 unit=d.get("unit", ""))


def check_command(request: Any, status: dict[str, Any], scenes: dict[str, dict[str, Any]],
                  by: str) -> Command:
    """The :class:`Command` for a request, every value checked; else :class:`CommandRejected`.

    ``status`` is the engine's latest :meth:`EngineStatus.as_dict`; ``scenes`` maps each
    installed scene name to its :meth:`Scene.describe`.
    """
    if not isinstance(request, dict):
        raise CommandRejected("command: the request must be a JSON object")
    name = request.get("command")
    args = request.get("args", {})
    if not isinstance(name, str) or name not in COMMANDS:
        raise CommandRejected(f"command: unknown command {str(name)[:MAX_NAME]!r}; commands are "
                              f"{', '.join(COMMANDS)}")
    if not isinstance(args, dict):
        raise CommandRejected(f"{name}: args must be a JSON object")
    extra = set(args) - set(COMMANDS[name])
    if extra:
        raise CommandRejected(f"{name}: unexpected argument(s) "
                              f"{', '.join(sorted(str(e)[:MAX_NAME] for e in extra))} "
                              f"(takes {', '.join(COMMANDS[name]) or 'none'})")
    missing = [k for k in REQUIRED.get(name, ()) if k not in args]
    if missing:
        raise CommandRejected(f"{name}: missing {', '.join(missing)}")
    checker = _CHECKS.get(name)
    checked = checker(name, dict(args), status, scenes) if checker else {}
    try:
        return Command(name, checked, by=by)
    except CommandError as exc:
        raise CommandRejected(str(exc)) from None


def _scene_name(name: str, args: dict, _status: dict, scenes: dict) -> dict[str, Any]:
    if "scene" not in args:
        return {}
    scene = _text(name, "scene", args["scene"])
    if scene not in scenes:
        raise CommandRejected(f"{name}: no scene {scene!r} (installed: {', '.join(scenes)})")
    return {"scene": scene}


def _start(name: str, args: dict, status: dict, scenes: dict) -> dict[str, Any]:
    checked = _scene_name(name, args, status, scenes)
    if "override" in args:
        if not isinstance(args["override"], bool):
            raise CommandRejected(f"{name}: override must be true or false")
        checked["override"] = args["override"]
    if "patient" in args:
        patient = args["patient"]
        if not is_patient_id(patient):
            raise CommandRejected(f"{name}: patient id {shown_id(patient)} {PATIENT_ID_RULE}")
        checked["patient"] = patient
    if "follow_up" in args:
        from vrgmi.outcomes.schedule import check_timepoint
        try:
            checked["follow_up"] = check_timepoint(args["follow_up"])
        except VrgmiError as exc:
            raise CommandRejected(f"{name}: follow_up: {exc}") from None
    return checked


def _set_param(name: str, args: dict, status: dict, scenes: dict) -> dict[str, Any]:
    param_name = _text(name, "name", args["name"])
    schema = status.get("schema") or scenes.get(status.get("scene", ""), {}).get("params", [])
    if not status.get("scene"):
        raise CommandRejected(f"{name}: no scene is running")
    by_name = {d["name"]: d for d in schema}
    if param_name not in by_name:
        raise CommandRejected(f"{name}: {status['scene']} has no difficulty setting "
                              f"{param_name!r} (settings: {', '.join(by_name) or 'none'})")
    try:
        value = param_from_description(by_name[param_name]).check(args["value"], status["scene"])
    except SceneParamError as exc:
        raise CommandRejected(f"{name}: {exc}") from None
    return {"name": param_name, "value": value}


def _set_patient(name: str, args: dict, _status: dict, _scenes: dict) -> dict[str, Any]:
    from vrgmi.settings import load_settings

    keys = {"side": "patient.amputation_side", "level": "patient.amputation_level",
            "height_m": "patient.height_m"}
    if not args:
        raise CommandRejected(f"{name}: give side, level or height_m")
    try:
        settings = load_settings(None, {keys[k]: v for k, v in args.items()})
    except VrgmiError as exc:
        raise CommandRejected(f"{name}: {exc}") from None
    p = settings.patient
    current = {"side": p.amputation_side, "level": p.amputation_level, "height_m": p.height_m}
    return {k: current[k] for k in args}


def _skin_tone(name: str, args: dict, _status: dict, _scenes: dict) -> dict[str, Any]:
    from vrgmi.render.skin import skin_tone

    tone = _text(name, "tone", args["tone"], 32)
    try:
        skin_tone(tone)
    except VrgmiError as exc:
        raise CommandRejected(f"{name}: {exc}") from None
    return {"tone": tone}


def _limb_shape(name: str, args: dict, _status: dict, _scenes: dict) -> dict[str, Any]:
    """At least one ``[limb_shape]`` value, each a finite number in the setting's range."""
    from vrgmi.settings import load_settings

    if not args:
        raise CommandRejected(f"{name}: give {', '.join(COMMANDS[name])}")
    for key, v in args.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise CommandRejected(f"{name}: {key} must be a number")
    try:
        shape = load_settings(None, {f"limb_shape.{k}": v for k, v in args.items()}).limb_shape
    except VrgmiError as exc:
        raise CommandRejected(f"{name}: {exc}") from None
    return {k: getattr(shape, k) for k in args}


def _gate_override(name: str, args: dict, _status: dict, _scenes: dict) -> dict[str, Any]:
    phase = args["phase"]
    if phase not in PHASES:
        raise CommandRejected(f"{name}: phase must be one of {', '.join(PHASES)}")
    if not isinstance(args["advance"], bool):
        raise CommandRejected(f"{name}: advance must be true or false")
    return {"phase": phase, "advance": args["advance"],
            "reason": _text(name, "reason", args["reason"], MAX_TEXT)}


def _step_back(name: str, args: dict, status: dict, _scenes: dict) -> dict[str, Any]:
    phase = args.get("phase", status.get("phase") or "")
    if phase not in PHASES[1:]:
        raise CommandRejected(f"{name}: phase must be one of {', '.join(PHASES[1:])} (the "
                              "first phase has none before it)")
    return {"phase": phase, "reason": _text(name, "reason", args["reason"], MAX_TEXT)}


def _shape_phantom(name: str, args: dict, _status: dict, _scenes: dict) -> dict[str, Any]:
    """A posture the shaper knows (or the captured one), telescoping and weight in bounds
    (the engine checks telescoping against the configured maximum and the limb)."""
    from vrgmi.body.shaping import CAPTURED, SHAPE_POSTURES
    from vrgmi.settings import ShapingSettings

    if not {"posture", "telescoping", "weight"} & set(args):
        raise CommandRejected(f"{name}: give posture, telescoping or weight")
    checked: dict[str, Any] = {}
    if "posture" in args:
        posture = _text(name, "posture", args["posture"], 40)
        known = {CAPTURED, *SHAPE_POSTURES["arm"], *SHAPE_POSTURES["leg"]}
        if posture not in known:
            raise CommandRejected(f"{name}: posture must be one of {', '.join(sorted(known))}")
        checked["posture"] = posture
    top = {f.name: f for f in dataclasses.fields(ShapingSettings)}[
        "max_telescoping"].metadata["hi"]            # the largest the setting may allow
    for key, hi in (("telescoping", top), ("weight", 1.0)):
        if key in args:
            v = args[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) \
                    or not math.isfinite(v) or not 0.0 <= v <= hi:
                raise CommandRejected(f"{name}: {key} must be a number 0..{hi:g}")
            checked[key] = float(v)
    if "reason" in args:
        checked["reason"] = _text(name, "reason", args["reason"], MAX_TEXT)
    return checked


def _source(name: str, args: dict, _status: dict, _scenes: dict) -> dict[str, Any]:
    return {"source": _text(name, "source", args["source"])} if "source" in args else {}


_CHECKS: dict[str, Callable[[str, dict, dict, dict], dict[str, Any]]] = {
    "start": _start, "switch_scene": _scene_name, "set_param": _set_param,
    "set_patient": _set_patient, "skin_tone": _skin_tone, "gate_override": _gate_override,
    "step_back": _step_back, "recenter": _source, "patient_stop": _source,
    "shape_phantom": _shape_phantom, "limb_shape": _limb_shape}


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, bursts of ``burst``."""

    def __init__(self, rate: float = 10.0, burst: float = 20.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst = rate, burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        """Take one request from ``key``'s bucket; False when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            ok = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if ok else tokens, now)
            return ok
