"""One session's LSL: the markers of its events, its limbs every frame, the phantom drive.

:class:`~vrgmi.session.SessionRunner` opens an :class:`LslLink` when the ``[lsl]``
settings ask for it (``enabled``, or a ``drive_stream``) and calls it at each frame's start
(:meth:`observe`), after each frame (:meth:`after_frame`), for each command applied
(:meth:`command`) and at the end (:meth:`close`). Without pylsl / liblsl there is no link:
one error line, and the session runs without LSL.
"""
from __future__ import annotations

import logging
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.events import Event
from vrgmi.research.clock import ClockMap
from vrgmi.research.drive import PhantomDrive, dof_maps
from vrgmi.research.lsl import load_pylsl, lsl_error
from vrgmi.research.markers import MarkerMaker

log = logging.getLogger("vrgmi.lsl")


class MarkerSink:
    """An event sink: each event's markers go to the marker outlet's sender thread."""

    def __init__(self, outlet: Any, clock: ClockMap) -> None:
        self.outlet, self.clock = outlet, clock
        self.maker = MarkerMaker()

    def put(self, event: Event) -> None:
        """Queue ``event``'s markers (converted and sent off the frame thread)."""
        self.outlet.put(lambda: self.maker.markers(event), self.clock.offset)

    def close(self) -> None:
        pass


class LslLink:
    """The session's LSL streams and phantom drive (see the module docstring)."""

    def __init__(self, pylsl: Any, engine: Any) -> None:
        self._pylsl = pylsl
        self.engine = engine
        lsl = engine.settings.lsl
        core = engine.core
        self.clock = ClockMap()
        self.markers: MarkerSink | None = None
        self.limbs = None
        self.drive: PhantomDrive | None = None
        #: (stream name, outlet) of the streams this session sends
        self._outlets: list[tuple[str, Any]] = []
        if lsl.enabled:
            from vrgmi.research.outlets import (LIMB_STREAM, MARKER_STREAM, limb_outlet,
                                                marker_outlet)
            self.markers = MarkerSink(marker_outlet(pylsl), self.clock)
            self._outlets.append((MARKER_STREAM, self.markers.outlet))
            if lsl.limbs:
                self.limbs = limb_outlet(pylsl, core.joint_names,
                                         engine.settings.display.refresh_hz)
                self._outlets.append((LIMB_STREAM, self.limbs))
        if lsl.drive_stream and dof_maps(lsl, core.limb):
            from vrgmi.research.drive_inlet import LslDriveSource
            channels = 1 + max(m.channel for m in dof_maps(lsl, core.limb))
            self.drive = PhantomDrive(lsl, core.limb,
                                      LslDriveSource(pylsl, lsl.drive_stream, channels))
            core.drive = self.drive

    @classmethod
    def open(cls, engine: Any) -> "LslLink | None":
        """The link the settings ask for, or None (not asked for, or no pylsl / liblsl)."""
        lsl = engine.settings.lsl
        if not lsl.enabled and not lsl.drive_stream:
            return None
        pylsl = load_pylsl()
        if pylsl is None:
            return None
        try:
            return cls(pylsl, engine)
        except VrgmiError:
            raise
        except Exception as exc:  # noqa: BLE001  liblsl could not open a stream: go on
            text = str(exc).strip().splitlines()
            log.error("vrgmi: lsl: could not open the streams (%s: %s); running without LSL",
                      type(exc).__name__, text[0] if text else "")
            return None

    def observe(self, t: float) -> None:
        """At a frame's start: its display time against the LSL clock."""
        self.clock.observe(t, self._pylsl.local_clock())

    def after_frame(self, t: float) -> None:
        """After the frame: both limbs' joints and the head at display time ``t``."""
        if self.limbs is not None:
            core = self.engine.core
            self.limbs.put(core.intact.positions, core.phantom.positions, core.frame.head,
                           self.clock.to_lsl(t))

    def command(self, name: str, by: str, args: dict[str, Any], t: float) -> None:
        """A command applied at display time ``t`` (a ``command`` marker)."""
        if self.markers is not None:
            pair = MarkerMaker.command(name, by, dict(args), t)
            self.markers.outlet.put(lambda: [pair], self.clock.offset)

    def status(self) -> dict[str, Any]:
        """The companion's research line (:func:`research_status`)."""
        drive = self.drive
        return {"lsl": "on",
                "outlets": [{"name": name, "sent": o.sent} for name, o in self._outlets],
                "drive": None if drive is None else {
                    "stream": self.engine.settings.lsl.drive_stream, "state": drive.state,
                    "presence": round(drive.presence, 2),
                    "dofs": [m.dof for m in drive.maps]}}

    def close(self) -> None:
        """Stop the drive (the phantom mirrors again); the outlets stay for the process."""
        if self.drive is not None:
            if getattr(self.engine.core, "drive", None) is self.drive:
                self.engine.core.drive = None
            self.drive.source.close()
            self.drive = None


def research_status(link: LslLink | None, settings: Any) -> dict[str, Any]:
    """What the companion shows of LSL (``EngineStatus.research``): ``lsl`` ``off`` (not
    asked for), ``unavailable`` (asked for, no pylsl / liblsl: ``error`` says why) or
    ``on``; with ``on``, ``outlets`` (name, samples sent) and ``drive`` (None, or the
    stream's name, ``state`` (:attr:`PhantomDrive.state`), ``presence`` and ``dofs``)."""
    if link is not None:
        return link.status()
    lsl = settings.lsl
    if not lsl.enabled and not lsl.drive_stream:
        return {"lsl": "off", "outlets": [], "drive": None}
    return {"lsl": "unavailable", "error": lsl_error() or "", "outlets": [], "drive": None}
