"""Session events as LSL string markers (docs/research.md, "Markers").

One marker is one JSON object in one string, ``{"marker": ..., "t": <display time>, ...}``,
stamped with the LSL time of its display time (:class:`~vrgmi.research.clock.ClockMap`).
A trial gives up to three: ``stimulus_onset`` (the display time of the stimulus' first
frame; explicit imagery: the demonstration's), ``response`` (or, explicit imagery,
``imagery_go``: the go tone) and ``trial_end``, each with the trial's ``condition`` and ``code``
(:mod:`.trials`); they go out when the trial ends, stamped with their own times. The
runner's blocks give ``block_start`` / ``block_end``, the session ``session_start`` /
``session_end``, a therapist's command ``command``, and every other event its own kind
(``questionnaire``, ``block_finished``, ``param_changed``, ``session_paused`` ...).
"""
from __future__ import annotations

import json
from typing import Any

from vrgmi.events import Event
from vrgmi.research.trials import ConditionCodes, condition, trial_times

#: event kinds renamed as markers
RENAMED = {"session_started": "session_start", "session_finished": "session_end",
           "scene_started": "block_start", "scene_finished": "block_end"}
#: the data fields a marker of these kinds carries (the whole data is in the session's log)
FIELDS = {"session_started": ("patient", "phase", "side", "level", "seed"),
          "session_finished": ("reason", "minutes"),
          "scene_started": ("phase",),
          "scene_finished": ("reason",),
          "questionnaire": ("instrument", "moment", "answers", "scores"),
          "block_finished": ("block",)}
#: what a trial's markers carry besides the condition
TRIAL_FIELDS = ("practice", "correct", "rt_ms", "success")


def _text(marker: str, t: float, scene: str, fields: dict[str, Any]) -> str:
    body = {"marker": marker, "t": round(t, 6)}
    if scene:
        body["scene"] = scene
    body.update(fields)
    return json.dumps(body, separators=(",", ":"), default=str)


class MarkerMaker:
    """Turns one session's events into ``(display time, marker text)`` pairs."""

    def __init__(self) -> None:
        self.codes = ConditionCodes()

    def markers(self, event: Event) -> list[tuple[float, str]]:
        """The markers of ``event``, in time order."""
        data, scene = event.data, event.scene
        if event.kind == "trial":
            label = condition(scene, data)
            common = {"trial": data.get("index"), "condition": label,
                      "code": self.codes.code(label),
                      **{k: data[k] for k in TRIAL_FIELDS if k in data}}
            times = trial_times(event.t, data)
            out = []
            if times.onset is not None:
                out.append((times.onset, _text("stimulus_onset", times.onset, scene, common)))
            if times.go is not None:
                out.append((times.go, _text("imagery_go", times.go, scene, common)))
            if times.response is not None:
                out.append((times.response, _text("response", times.response, scene, common)))
            out.append((times.end, _text("trial_end", times.end, scene, common)))
            return out
        keys = FIELDS.get(event.kind)
        fields = ({k: data[k] for k in keys if k in data} if keys is not None else
                  {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool))})
        return [(event.t, _text(RENAMED.get(event.kind, event.kind), event.t, scene, fields))]

    @staticmethod
    def command(name: str, by: str, args: dict[str, Any], t: float) -> tuple[float, str]:
        """A therapist's (or the patient's) command applied at display time ``t``."""
        return t, _text("command", t, "", {"name": name, "by": by, "args": args})
