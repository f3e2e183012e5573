"""A session's events as BIDS ``*_events.tsv`` + ``*_events.json`` (docs/research.md, "BIDS").

One row per trial (onset at the stimulus' first frame, duration to the trial's end,
``trial_type`` = ``<scene>/<condition>``, ``value`` = the condition code the LSL markers
carry, ``response_time``), per block (``block/<scene>``, start to end) and per
questionnaire (``questionnaire/<instrument>/<moment>``). Onsets are seconds from the
session's start (``session_started``) on the display clock; with LSL, the
``session_start`` marker is that zero in a recording (its LSL time). The sidecar describes
every column and every ``trial_type`` and ``value`` level. Written as a small BIDS
dataset: ``dataset_description.json`` at the root (kept if there), then
``sub-<patient>/ses-<session>/beh/sub-<patient>_ses-<session>_task-<task>_events.*``.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vrgmi.atomic import write_text
from vrgmi.errors import VrgmiError
from vrgmi.events import Event
from vrgmi.research.trials import ConditionCodes, condition, trial_times

#: the BIDS version the files are written for
BIDS_VERSION = "1.9.0"
COLUMNS = ("onset", "duration", "trial_type", "value", "response_time", "response",
           "correct", "practice", "scene", "trial")
DESCRIPTIONS = {
    "onset": {"LongName": "Event onset", "Units": "s", "Description":
              "Seconds from the session's start (the display time of session_started): a "
              "trial's stimulus onset is the display time of the first frame that showed it"},
    "duration": {"LongName": "Event duration", "Units": "s", "Description":
                 "Seconds to the trial's (block's) end; 0 for a questionnaire's answer"},
    "trial_type": {"LongName": "Event category", "Description":
                   "<scene>/<condition> for a trial, block/<scene>, or "
                   "questionnaire/<instrument>/<moment>"},
    "value": {"LongName": "Condition code", "Description":
              "The trial's condition code (1, 2, ... in order of first appearance in the "
              "session), as in the LSL markers' 'code'"},
    "response_time": {"LongName": "Response time", "Units": "s", "Description":
                      "Seconds from the stimulus onset to the response; n/a without one"},
    "response": {"LongName": "Response", "Description":
                 "The patient's answer (laterality: left | right; questionnaires: the "
                 "answers as JSON)"},
    "correct": {"LongName": "Correct", "Description": "Laterality: the answer was right; "
                "other tasks: the trial succeeded", "Levels": {"1": "yes", "0": "no"}},
    "practice": {"LongName": "Practice trial", "Description":
                 "Practice trials are never scored", "Levels": {"1": "yes", "0": "no"}},
    "scene": {"LongName": "Scene", "Description": "The vrgmi scene (task) of the event"},
    "trial": {"LongName": "Trial number", "Description": "The trial's index in its scene"},
}


def bids_label(text: str) -> str:
    """``text`` as a BIDS label (letters and digits only); one-line error when none left."""
    label = re.sub(r"[^A-Za-z0-9]", "", str(text))
    if not label:
        raise VrgmiError(f"bids: {text!r} has no letters or digits for a BIDS label")
    return label


def _event(e: Event | dict[str, Any]) -> dict[str, Any]:
    return e if isinstance(e, dict) else {"kind": e.kind, "t": e.t, "data": e.data,
                                          "scene": e.scene, "session": e.session}


def _flag(value: Any) -> Any:
    return None if value is None else int(bool(value))


def events_table(events: Iterable[Event | dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                      dict[str, Any]]:
    """The rows (dicts of :data:`COLUMNS`, None = n/a) and the sidecar of a session's
    events (an :class:`Event` list or the JSON Lines log's dicts)."""
    events = [_event(e) for e in events]
    start = next((e for e in events if e["kind"] == "session_started"), None)
    if start is None:
        raise VrgmiError("bids: the events hold no session_started (not a session's log)")
    t0 = float(start["t"])
    codes = ConditionCodes()
    rows: list[dict[str, Any]] = []
    levels: dict[str, str] = {}
    open_blocks: dict[str, float] = {}
    for e in events:
        kind, data, scene, t = e["kind"], e["data"] or {}, e["scene"] or "", float(e["t"])
        if kind == "trial":
            label = condition(scene, data)
            code = codes.code(label)
            times = trial_times(t, data)
            onset = times.onset if times.onset is not None else t
            rt = times.response - onset if times.response is not None else None
            trial_type = f"{scene}/{label}"
            levels[trial_type] = f"a {scene} trial, condition {label}"
            rows.append({"onset": onset - t0, "duration": t - onset, "trial_type": trial_type,
                         "value": code, "response_time": rt, "response": data.get("answer"),
                         "correct": _flag(data.get("correct", data.get("success"))),
                         "practice": _flag(data.get("practice", False)), "scene": scene,
                         "trial": data.get("index")})
        elif kind == "scene_started":
            open_blocks[scene] = t
        elif kind == "scene_finished" and scene in open_blocks:
            began = open_blocks.pop(scene)
            trial_type = f"block/{scene}"
            levels[trial_type] = f"the {scene} block, from its start to its end"
            rows.append({"onset": began - t0, "duration": t - began, "trial_type": trial_type,
                         "scene": scene})
        elif kind == "questionnaire":
            trial_type = f"questionnaire/{data.get('instrument')}/{data.get('moment')}"
            levels[trial_type] = (f"the {data.get('instrument')} questionnaire "
                                  f"({data.get('moment')}) answered")
            rows.append({"onset": t - t0, "duration": 0.0, "trial_type": trial_type,
                         "response": json.dumps(data.get("answers")), "scene": scene})
    rows.sort(key=lambda r: r["onset"])
    sidecar = {c: dict(DESCRIPTIONS[c]) for c in COLUMNS}
    sidecar["trial_type"]["Levels"] = dict(sorted(levels.items()))
    sidecar["value"]["Levels"] = {str(v): k for k, v in codes.codes.items()}
    sidecar["StimulusPresentation"] = {"SoftwareName": "vrgmi", "Code": "docs/research.md"}
    return rows, sidecar


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
    return str(value).replace("\t", " ").replace("\n", " ")


def write_bids_events(events: Iterable[Event | dict[str, Any]], root: Path,
                      task: str = "gmi") -> list[Path]:
    """Write one session's events into the BIDS dataset at ``root``; the files written
    (``dataset_description.json`` only when it is not there yet)."""
    events = [_event(e) for e in events]
    rows, sidecar = events_table(events)
    start = next(e for e in events if e["kind"] == "session_started")
    subject = bids_label(start["data"].get("patient") or "unknown")
    session = bids_label(start.get("session") or "1")
    root = Path(root)
    folder = root / f"sub-{subject}" / f"ses-{session}" / "beh"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VrgmiError(f"bids: cannot write to {folder} ({exc.strerror})") from None
    written = []
    description = root / "dataset_description.json"
    if not description.exists():
        write_text(description, json.dumps({
            "Name": "vrgmi sessions", "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
            "GeneratedBy": [{"Name": "vrgmi", "Description": "VR graded motor imagery"}]},
            indent=2) + "\n")
        written.append(description)
    stem = folder / f"sub-{subject}_ses-{session}_task-{bids_label(task)}_events"
    lines = ["\t".join(COLUMNS)] + ["\t".join(_cell(r.get(c)) for c in COLUMNS) for r in rows]
    tsv, sidecar_path = stem.with_suffix(".tsv"), stem.with_suffix(".json")
    write_text(tsv, "\n".join(lines) + "\n")
    write_text(sidecar_path, json.dumps(sidecar, indent=2) + "\n")
    return written + [tsv, sidecar_path]
