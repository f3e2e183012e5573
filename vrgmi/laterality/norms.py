"""Normal laterality performance, read from the one place it is defined: the ``[norms]``
settings (:class:`vrgmi.settings.NormsSettings`; CLINICAL.md, NOI guidance: accuracy >= 80 %,
response time about 2.0 s +/- 0.5 for hands and feet, 1.6 s +/- 0.5 for neck and back, left
and right about equal, stable for at least a week).

One rule for every reader (the gate, the analysis, the progress report): a side **meets the
norm** when its accuracy is at least ``accuracy_min`` and its median RT of correct answers
is at most ``rt_mean_s + rt_sd_s``. Faster than the band is not a deficit (an accurate,
fast patient is normal), so it meets the norm; the analysis still labels it ``faster``.
"""
from __future__ import annotations

from dataclasses import dataclass

from vrgmi.errors import VrgmiError
from vrgmi.settings import NormsSettings


class NormsError(VrgmiError, ValueError):
    """A norm value is out of range or a body part has no norm."""


@dataclass(frozen=True)
class Norms:
    """Normal performance for one body part (defaults: the ``[norms]`` settings' defaults).
    ``side_difference_ms`` (None: not judged) bounds |right - left| median RT."""

    accuracy_min: float = NormsSettings.accuracy_min
    rt_mean_s: float = NormsSettings.rt_mean_s
    rt_sd_s: float = NormsSettings.rt_sd_s
    side_difference_ms: float | None = None

    def __post_init__(self) -> None:
        if not 0.5 <= self.accuracy_min <= 1.0:
            raise NormsError(f"norm accuracy {self.accuracy_min!r} is outside 0.5..1")
        if not 0.2 <= self.rt_mean_s <= 10.0 or not 0.0 < self.rt_sd_s < self.rt_mean_s:
            raise NormsError(f"norm RT {self.rt_mean_s!r} +- {self.rt_sd_s!r} s must be "
                             "0.2..10 s with a spread below the mean")
        if self.side_difference_ms is not None and not self.side_difference_ms > 0.0:
            raise NormsError(f"norm side difference {self.side_difference_ms!r} ms must be "
                             "positive")

    @property
    def rt_limit_s(self) -> float:
        """The slowest median RT (s) that meets the norm: mean + spread."""
        return self.rt_mean_s + self.rt_sd_s

    def accuracy_ok(self, accuracy: float | None) -> bool:
        """Whether ``accuracy`` (fraction correct) meets the norm."""
        return accuracy is not None and accuracy >= self.accuracy_min

    def rt_ok(self, rt_s: float | None) -> bool:
        """Whether a median RT (s) meets the norm (at most :attr:`rt_limit_s`)."""
        return rt_s is not None and rt_s <= self.rt_limit_s

    def rt_verdict(self, rt_s: float | None) -> str | None:
        """``slower`` than the band, ``within`` it or ``faster`` (None without an RT)."""
        if rt_s is None:
            return None
        return ("slower" if rt_s > self.rt_limit_s else
                "faster" if rt_s < self.rt_mean_s - self.rt_sd_s else "within")


def norms_table(settings: NormsSettings | None = None) -> dict[str, Norms]:
    """The norms per body part (``hand``, ``foot``, ``neck_back``) from ``settings``
    (default: the settings' defaults); left/right equality in ms from the same section."""
    s = settings or NormsSettings()
    side = 1000.0 * s.max_side_rt_diff_s or None
    limb = Norms(s.accuracy_min, s.rt_mean_s, s.rt_sd_s, side)
    return {"hand": limb, "foot": limb,
            "neck_back": Norms(s.accuracy_min, s.neck_back_rt_mean_s, s.rt_sd_s, side)}


#: the defaults per body part
NORMS: dict[str, Norms] = norms_table()


def norms_for(part: str, overrides: dict[str, Norms] | None = None,
              settings: NormsSettings | None = None) -> Norms:
    """The norms of ``part`` (``hand``, ``foot``, ``neck_back``) from ``settings``,
    ``overrides`` first."""
    table = {**norms_table(settings), **(overrides or {})}
    try:
        return table[part]
    except KeyError:
        raise NormsError(f"no laterality norms for {part!r} (known: "
                         f"{', '.join(table)})") from None
