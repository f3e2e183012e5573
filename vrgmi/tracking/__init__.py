"""Tracked input: frames, pose sources (replay, scripted, desktop), recording and filters.

``TrackingFrame`` and ``PoseSource`` are imported eagerly; everything else on first use
(``from vrgmi.tracking import ReplaySource``), so importing the package stays cheap and free of
import cycles with ``vrgmi.body``.
"""
from __future__ import annotations

import importlib

from vrgmi.tracking.frame import PoseSource, TrackingFrame

_LAZY = {
    "Replay": "replay", "ReplaySource": "replay", "ReplayFormatError": "replay",
    "ReplayWriteError": "replay", "load_replay": "replay", "save_replay": "replay",
    "Recorder": "record", "RecorderError": "record", "record_source": "record",
    "ScriptedSource": "scripted", "make_scripted_replay": "scripted", "MOTIONS": "scripted",
    "SourceError": "scripted",
    "DesktopSource": "desktop", "NoDisplayError": "desktop",
    "PoseFilter": "filters", "FilterSettings": "filters", "FilterSettingsError": "filters",
}

__all__ = ["PoseSource", "TrackingFrame", *_LAZY]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(f"vrgmi.tracking.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'vrgmi.tracking' has no attribute {name!r}")
