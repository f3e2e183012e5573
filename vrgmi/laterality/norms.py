"""Normal laterality performance (CLINICAL.md, "Laterality task"; NOI guidance), as
configurable defaults: accuracy >= 80 %, response time about 2.0 s +/- 0.5 for hands and
feet (1.6 s +/- 0.5 for neck and back). CLINICAL.md says left and right "should be about
equal" but gives no number, so no side-difference limit is set by default."""
from __future__ import annotations

from dataclasses import dataclass

from vrgmi.errors import VrgmiError


class NormsError(VrgmiError, ValueError):
    """A norm value is out of range or a body part has no norm."""


@dataclass(frozen=True)
class Norms:
    """Normal performance for one body part. A mean RT within ``rt_mean_s +- rt_sd_s`` is
    ``within`` the norm; ``side_difference_ms`` (None: not judged) bounds |right - left|."""

    accuracy_min: float = 0.80
    rt_mean_s: float = 2.0
    rt_sd_s: float = 0.5
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


#: defaults per body part (CLINICAL.md)
NORMS: dict[str, Norms] = {
    "hand": Norms(),
    "foot": Norms(),
    "neck_back": Norms(rt_mean_s=1.6),
}


def norms_for(part: str, overrides: dict[str, Norms] | None = None) -> Norms:
    """The norms of ``part`` (``hand``, ``foot``, ``neck_back``), overrides first."""
    table = {**NORMS, **(overrides or {})}
    try:
        return table[part]
    except KeyError:
        raise NormsError(f"no laterality norms for {part!r} (known: "
                         f"{', '.join(table)})") from None
