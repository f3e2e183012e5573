"""Laterality analysis against hand-computed figures."""
from __future__ import annotations

import json
import math

import pytest

from vrgmi.laterality.analysis import figures, session_figures
from vrgmi.laterality.norms import Norms, NormsError, norms_for
from vrgmi.settings import load_settings


def _trial(block, side, correct, rt, rot, ml, axes=("in_plane",), limb="hand",
           timeout=False):
    return {"block": block, "limb": limb, "side": side, "correct": correct,
            "timeout": timeout, "rt_ms": rt, "rotation_deg": rot, "medial_lateral": ml,
            "axes": list(axes)}


#: six trials: left 1000 / 1400 / wrong 900, right 2000 / 2600 / timeout
TRIALS = [
    _trial(0, "left", True, 1000.0, 0.0, "neutral", axes=()),
    _trial(0, "left", True, 1400.0, 60.0, "medial", axes=("in_plane", "tilt")),
    _trial(0, "left", False, 900.0, 120.0, "lateral"),
    _trial(1, "right", True, 2000.0, 0.0, "neutral", axes=()),
    _trial(1, "right", True, 2600.0, 120.0, "lateral", axes=("in_plane", "turn")),
    _trial(1, "right", False, None, 60.0, "medial", timeout=True),
]


def test_overall_figures():
    f = figures(TRIALS)
    assert (f["n"], f["correct"], f["timeouts"]) == (6, 4, 1)
    assert f["accuracy"] == pytest.approx(4 / 6, abs=1e-4)
    # correct RTs 1000, 1400, 2000, 2600: mean 1750, median 1700, SD sqrt(1470000 / 3) = 700
    assert (f["rt_mean_ms"], f["rt_median_ms"], f["rt_sd_ms"]) == (1750.0, 1700.0, 700.0)


def test_sides_and_their_difference():
    f = figures(TRIALS, affected_side="left")
    left, right = f["left"], f["right"]
    assert (left["n"], left["correct"], left["rt_mean_ms"]) == (3, 2, 1200.0)
    assert left["rt_sd_ms"] == pytest.approx(math.sqrt(80000.0), abs=0.05)
    assert (right["n"], right["timeouts"], right["rt_mean_ms"]) == (3, 1, 2300.0)
    assert f["right_minus_left"] == {"accuracy": 0.0, "rt_mean_ms": 1100.0,
                                     "rt_median_ms": 1100.0}
    assert f["affected_minus_unaffected"]["rt_mean_ms"] == -1100.0


def test_rt_by_angle_and_slope():
    f = figures(TRIALS, angle_bin_deg=30.0)
    bins = {b["angle_deg"]: b for b in f["by_angle"]}
    assert sorted(bins) == [0.0, 60.0, 120.0]
    assert (bins[0.0]["n"], bins[0.0]["accuracy"], bins[0.0]["rt_mean_ms"]) == (2, 1.0, 1500.0)
    assert (bins[60.0]["accuracy"], bins[60.0]["rt_mean_ms"]) == (0.5, 1400.0)
    assert (bins[120.0]["accuracy"], bins[120.0]["rt_mean_ms"]) == (0.5, 2600.0)
    # points (0, 1000) (60, 1400) (0, 2000) (120, 2600): Sxy 81000, Sxx 9900
    assert f["rt_slope_ms_per_deg"] == pytest.approx(81000 / 9900, abs=1e-3)
    assert f["rt_intercept_ms"] == pytest.approx(1750 - 81000 / 9900 * 45, abs=0.1)


def test_medial_versus_lateral():
    f = figures(TRIALS)
    ml = f["medial_lateral"]
    assert (ml["medial"]["n"], ml["medial"]["accuracy"], ml["medial"]["rt_mean_ms"]) == \
        (2, 0.5, 1400.0)
    assert (ml["lateral"]["accuracy"], ml["lateral"]["rt_mean_ms"]) == (0.5, 2600.0)
    assert ml["lateral_minus_medial_ms"] == 1200.0
    multi = f["medial_lateral_multi_axis"]
    assert (multi["medial"]["n"], multi["lateral"]["n"], multi["neutral"]["n"]) == (1, 1, 0)
    assert multi["lateral_minus_medial_ms"] == 1200.0


def test_comparison_with_the_norms():
    f = figures(TRIALS, norms=Norms(side_difference_ms=500.0))
    n = f["norms"]
    # verdicts on the median RT of correct answers, as the gate judges
    assert (n["accuracy"], n["rt"]) == ("below", "within")      # 67 % < 80 %; 1.7 s
    assert n["left"] == {"accuracy": "below", "rt": "faster", "meets": False}  # 1.2 s
    assert n["right"] == {"accuracy": "below", "rt": "within", "meets": False}  # 2.3 s
    assert n["side_difference"] == "beyond"                     # |1100| > 500 ms
    assert n["norm"]["rt_mean_s"] == 2.0
    slow = figures([_trial(0, "left", True, 2600.0, 0.0, "neutral")], norms=Norms())
    assert (slow["norms"]["accuracy"], slow["norms"]["rt"]) == ("meets", "slower")
    assert not slow["norms"]["meets"]
    assert figures(TRIALS, norms=Norms())["norms"]["side_difference"] is None


def test_faster_than_the_band_meets_the_norm_as_the_gate_says():
    """1.30 s is below 2.0 - 0.5 s: labelled faster, and it meets the norm (the gate's rule)."""
    fast = figures([_trial(0, "left", True, 1300.0, 0.0, "neutral"),
                    _trial(0, "right", True, 1300.0, 0.0, "neutral")], norms=norms_for("hand"))
    assert fast["norms"]["rt"] == "faster" and fast["norms"]["meets"]
    assert fast["norms"]["left"]["meets"] and fast["norms"]["side_difference"] == "within"
    assert norms_for("hand").rt_ok(1.30) and not norms_for("hand").rt_ok(2.51)


def test_default_norms_come_from_the_settings():
    assert norms_for("hand") == Norms(0.80, 2.0, 0.5, side_difference_ms=300.0)
    assert norms_for("foot") == Norms(0.80, 2.0, 0.5, side_difference_ms=300.0)
    assert norms_for("neck_back").rt_mean_s == 1.6
    clinic = load_settings(overrides=["norms.rt_mean_s=2.4", "norms.accuracy_min=0.85"]).norms
    assert norms_for("hand", settings=clinic) == Norms(0.85, 2.4, 0.5, 300.0)
    assert norms_for("hand", {"hand": Norms(rt_mean_s=2.4)}).rt_mean_s == 2.4
    with pytest.raises(NormsError):
        norms_for("knee")
    with pytest.raises(NormsError):
        Norms(rt_mean_s=2.0, rt_sd_s=3.0)


def test_empty_and_all_wrong_sets_give_none_not_errors():
    f = figures([])
    assert (f["n"], f["accuracy"], f["rt_mean_ms"], f["rt_slope_ms_per_deg"]) == \
        (0, None, None, None)
    wrong = figures([_trial(0, "left", False, 800.0, 30.0, "medial")], norms=Norms())
    assert wrong["accuracy"] == 0.0 and wrong["rt_mean_ms"] is None
    assert wrong["norms"]["rt"] is None and wrong["right_minus_left"]["accuracy"] is None
    json.dumps(wrong)                                           # JSON-ready


def test_session_figures_split_blocks_and_limbs():
    trials = TRIALS + [_trial(2, "left", True, 1800.0, 0.0, "neutral", limb="foot")]
    s = session_figures(trials, affected_side="right")
    assert [b["block"] for b in s["blocks"]] == [0, 1, 2]
    assert s["blocks"][0]["n"] == 3 and s["blocks"][0]["accuracy"] == pytest.approx(0.6667)
    assert s["all"]["n"] == 7
    assert s["all"]["norms"] is not None                        # hands and feet share a norm
    assert sorted(s["limbs"]) == ["foot", "hand"]
    assert s["limbs"]["foot"]["rt_mean_ms"] == 1800.0
    assert s["limbs"]["hand"]["affected_minus_unaffected"]["rt_mean_ms"] == 1100.0
