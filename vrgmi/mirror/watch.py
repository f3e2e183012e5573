"""Is the patient watching the phantom? The share of time it was in the central view.

Mirror therapy works through watching the mirror image; moving the intact limb while looking
elsewhere is not mirror therapy. Each frame the core measures the angle between the head's
forward direction (the display-time head pose) and the phantom's end effector
(``CorePipeline.phantom_view_deg``; within ``mirror.watch_angle_deg`` is "watched"). A
:class:`WatchMeter` adds the frame times up per trial and per block and keeps how long the
patient has been looking away, for the in-headset cue (``mirror.look_cue_s``). Frames that
cannot be judged (no head pose, the intact limb untracked so no phantom) count for neither
side and leave the looking-away clock where it is. No Panda3D, no allocation per frame.
"""
from __future__ import annotations

from vrgmi.mirror.trial import check_range


def _share(watched: float, measured: float) -> float | None:
    return round(watched / measured, 3) if measured > 0.0 else None


class WatchMeter:
    """Seconds watched / seconds measured, per trial and per block; seconds looking away.

    ``update(dt, angle_deg, in_view, in_trial)`` once per frame; :meth:`end_trial` returns
    the finished trial's share and starts the next; ``cue_due`` is True once the patient
    has looked away for ``cue_after_s`` seconds (never when it is 0)."""

    def __init__(self, cue_after_s: float = 0.0) -> None:
        self.cue_after_s = check_range("cue_after_s", cue_after_s, 0.0, 600.0)
        self.trial_watched_s = self.trial_measured_s = 0.0
        self.block_watched_s = self.block_measured_s = 0.0
        self.away_s = 0.0
        self.watching = False

    def update(self, dt: float, angle_deg: float, in_view: bool, in_trial: bool) -> None:
        """One frame of ``dt`` seconds: the phantom's angle from the view's centre (NaN when
        it cannot be judged) and whether that is within the watched cone."""
        if angle_deg != angle_deg:
            return
        self.watching = bool(in_view)
        watched = dt if in_view else 0.0
        self.block_measured_s += dt
        self.block_watched_s += watched
        if in_trial:
            self.trial_measured_s += dt
            self.trial_watched_s += watched
        self.away_s = 0.0 if in_view else self.away_s + dt

    @property
    def trial_share(self) -> float | None:
        """Share (0..1) of the running trial's judged time the phantom was watched."""
        return _share(self.trial_watched_s, self.trial_measured_s)

    @property
    def block_share(self) -> float | None:
        """Share (0..1) of the block's judged time the phantom was watched."""
        return _share(self.block_watched_s, self.block_measured_s)

    @property
    def cue_due(self) -> bool:
        """True when the look-away cue is on and the patient has looked away that long."""
        return self.cue_after_s > 0.0 and self.away_s >= self.cue_after_s - 1e-9

    def end_trial(self) -> float | None:
        """The finished trial's share (None if no frame could be judged); resets the trial."""
        share = self.trial_share
        self.trial_watched_s = self.trial_measured_s = 0.0
        return share

    def block_figures(self) -> dict[str, float | None]:
        """``watch_share`` and the seconds it is made of, for ``block_finished``."""
        return {"watch_share": self.block_share,
                "watched_s": round(self.block_watched_s, 2),
                "watch_measured_s": round(self.block_measured_s, 2)}
