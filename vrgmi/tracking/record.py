"""Record TrackingFrames into a replay file (docs/replay-format.md).

Frames are copied into preallocated chunks (amortised: one set of arrays per
``chunk_frames`` frames; the large hand-joint and tracker blocks only once a chunk sees such
a channel valid), and ``close()`` writes the file atomically through :func:`save_replay`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from vrgmi.errors import VrgmiError
from vrgmi.tracking.frame import HAND_JOINT_COUNT, SIDES, TRACKER_ROLES, PoseSource, TrackingFrame
from vrgmi.tracking.replay import Replay, save_replay

_R = len(TRACKER_ROLES)


class RecorderError(VrgmiError, ValueError):
    """Frames given to a Recorder are out of order, or it is already closed."""


def _identity(shape: tuple[int, ...]) -> np.ndarray:
    a = np.zeros(shape + (7,))
    a[..., 6] = 1.0
    return a


class _Chunk:
    __slots__ = ("t", "head", "head_valid", "grip", "grip_valid", "aim", "aim_valid",
                 "trigger", "squeeze", "hand_joints", "hand_valid", "tracker", "tracker_valid")

    def __init__(self, n: int) -> None:
        self.t = np.zeros(n)
        self.head = _identity((n,))
        self.head_valid = np.zeros(n, dtype=np.bool_)
        self.grip = _identity((n, 2))
        self.grip_valid = np.zeros((n, 2), dtype=np.bool_)
        self.aim = _identity((n, 2))
        self.aim_valid = np.zeros((n, 2), dtype=np.bool_)
        self.trigger = np.zeros((n, 2))
        self.squeeze = np.zeros((n, 2))
        self.hand_joints: np.ndarray | None = None     # allocated when a hand is first valid
        self.hand_valid = np.zeros((n, 2), dtype=np.bool_)
        self.tracker: np.ndarray | None = None         # allocated when a tracker is first valid
        self.tracker_valid = np.zeros((n, _R), dtype=np.bool_)


class Recorder:
    """Append TrackingFrames (engine space); ``close()`` writes the replay (stage space).

    ``frame.t`` must increase from frame to frame. Use as a context manager or call
    ``close()``; what was recorded is written even if the ``with`` body raised.
    """

    def __init__(self, path: str | os.PathLike, chunk_frames: int = 2048) -> None:
        if not 1 <= chunk_frames <= 1_000_000:
            raise RecorderError(f"Recorder: chunk_frames {chunk_frames!r} is outside 1..1000000")
        self.path = Path(path)
        self._size = chunk_frames
        self._chunks: list[_Chunk] = []
        self._k = chunk_frames                          # rows used in the last chunk
        self._last_t = -math.inf
        self._closed = False

    @property
    def frame_count(self) -> int:
        """Frames appended so far."""
        return 0 if not self._chunks else (len(self._chunks) - 1) * self._size + self._k

    def append(self, frame: TrackingFrame) -> None:
        """Copy ``frame`` into the recording (no per-frame allocation)."""
        if self._closed:
            raise RecorderError(f"{self.path}: the recorder is closed")
        if not frame.t > self._last_t:
            raise RecorderError(f"{self.path}: frame time {frame.t!r} does not follow the "
                                f"previous frame's {self._last_t!r}")
        self._last_t = frame.t
        if self._k == self._size:
            self._chunks.append(_Chunk(self._size))
            self._k = 0
        c, k = self._chunks[-1], self._k
        c.t[k] = frame.t
        c.head[k] = frame.head
        c.head_valid[k] = frame.head_valid
        c.grip[k] = frame.grip
        c.grip_valid[k] = frame.grip_valid
        c.aim[k] = frame.aim
        c.aim_valid[k] = frame.aim_valid
        c.trigger[k] = frame.trigger
        c.squeeze[k] = frame.squeeze
        c.hand_valid[k] = frame.hand_valid
        if frame.hand_valid.any():
            if c.hand_joints is None:
                c.hand_joints = _identity((self._size, 2, HAND_JOINT_COUNT))
            c.hand_joints[k] = frame.hand_joints
        c.tracker_valid[k] = frame.tracker_valid
        if frame.tracker_valid.any():
            if c.tracker is None:
                c.tracker = _identity((self._size, _R))
            c.tracker[k] = frame.tracker
        self._k += 1

    def _gather(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        parts = []
        for i, c in enumerate(self._chunks):
            n = self._k if i == len(self._chunks) - 1 else self._size
            a = getattr(c, name)
            parts.append(_identity((n,) + shape) if a is None else a[:n])
        return np.concatenate(parts)

    def to_replay(self) -> Replay:
        """The frames so far as a Replay (engine space).

        The format has no head or aim flags: an invalid head, or an invalid aim while its
        grip is valid, is stored as NaN (what the filters treat as a lost pose). A side's aim,
        trigger/squeeze or hand joints, and each tracker role, are stored only if ever present.
        """
        if not self._chunks:
            raise RecorderError(f"{self.path}: no frames were recorded")
        g = {n: self._gather(n, s) for n, s in (
            ("t", ()), ("head", ()), ("head_valid", ()), ("grip", (2,)), ("grip_valid", (2,)),
            ("aim", (2,)), ("aim_valid", (2,)), ("trigger", (2,)), ("squeeze", (2,)),
            ("hand_valid", (2,)), ("tracker_valid", (_R,)))}
        head = g["head"]
        head[~g["head_valid"]] = np.nan
        fields: dict[str, object] = {"t": g["t"], "head": head}
        hands = (self._gather("hand_joints", (2, HAND_JOINT_COUNT))
                 if any(c.hand_joints is not None for c in self._chunks) else None)
        for s, side in enumerate(SIDES):
            valid = g["grip_valid"][:, s]
            fields[f"{side}_grip"] = g["grip"][:, s]
            fields[f"{side}_valid"] = valid
            aim_valid = g["aim_valid"][:, s]
            if aim_valid.any():
                aim = g["aim"][:, s]
                aim[valid & ~aim_valid] = np.nan
                fields[f"{side}_aim"] = aim
            if valid.any() or g["trigger"][:, s].any() or g["squeeze"][:, s].any():
                for name in ("trigger", "squeeze"):
                    fields[f"{side}_{name}"] = np.clip(np.nan_to_num(g[name][:, s]), 0.0, 1.0)
            hand_valid = g["hand_valid"][:, s]
            if hand_valid.any():
                fields[f"{side}_hand_joints"] = hands[:, s]
                fields[f"{side}_hand_valid"] = hand_valid
        trackers, tracker_valid = {}, {}
        if any(c.tracker is not None for c in self._chunks):
            poses = self._gather("tracker", (_R,))
            for r, role in enumerate(TRACKER_ROLES):
                if g["tracker_valid"][:, r].any():
                    trackers[role] = poses[:, r]
                    tracker_valid[role] = g["tracker_valid"][:, r]
        return Replay(**fields, trackers=trackers, tracker_valid=tracker_valid)

    def close(self) -> Path | None:
        """Write the replay file atomically; returns its path, or None if no frame came.
        Safe to call twice."""
        if self._closed:
            return None
        self._closed = True
        if not self._chunks:
            return None
        path = save_replay(self.path, self.to_replay())
        self._chunks.clear()
        return path

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record_source(source: PoseSource, path: str | os.PathLike, rate_hz: float,
                  seconds: float) -> int:
    """Poll ``source`` at ``rate_hz`` from display time 0 for ``seconds`` (or until it ends)
    and write the frames to ``path``; returns the number of frames written."""
    if not 1.0 <= rate_hz <= 1000.0 or not 0.0 < seconds <= 24 * 3600.0:
        raise RecorderError(f"record: rate {rate_hz!r} Hz must be 1..1000 and seconds "
                            f"{seconds!r} must be 0..86400")
    frame = TrackingFrame()
    with Recorder(path) as rec:
        for k in range(max(1, round(seconds * rate_hz))):
            if not source.poll(k / rate_hz, frame):
                break
            rec.append(frame)
        n = rec.frame_count
    return n
