"""Questionnaire scoring against hand-computed cases (CLINICAL.md formulas)."""
from __future__ import annotations

import pytest

from vrgmi.measures.questionnaires import (SSQ_ITEMS, QuestionnaireError, check_nrs, pain_flare,
                                           score_pcs, score_ssq)


def test_nrs_accepts_whole_numbers_0_to_10_only():
    assert check_nrs(0) == 0 and check_nrs(10) == 10 and check_nrs(7.0) == 7
    for bad in (-1, 11, 3.5, "5", None, True, float("nan")):
        with pytest.raises(QuestionnaireError) as err:
            check_nrs(bad)
        assert "\n" not in str(err.value) and "pain NRS" in str(err.value)


def test_pain_flare_is_a_rise_of_three_or_more():
    assert pain_flare(2, 5) and pain_flare(0, 10)
    assert not pain_flare(2, 4) and not pain_flare(6, 2)
    assert pain_flare(4, 6, rise=2)


def test_ssq_item_order_matches_clinical_md():
    assert len(SSQ_ITEMS) == 16
    assert SSQ_ITEMS[0] == "General discomfort" and SSQ_ITEMS[3] == "Eye strain"
    assert SSQ_ITEMS[11] == "Dizzy (eyes open)" and SSQ_ITEMS[15] == "Burping"


def test_ssq_hand_computed_case():
    # general discomfort 1, headache 2, eye strain 1, difficulty concentrating 1, dizzy open 1
    answers = [1, 0, 2, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]
    s = score_ssq(answers)
    # N = items 1,6,7,8,9,15,16 = 1+1 = 2; O = 1,2,3,4,5,9,11 = 1+2+1+1 = 5; D = item 12 = 1
    assert (s.nausea_raw, s.oculomotor_raw, s.disorientation_raw) == (2, 5, 1)
    assert s.nausea == pytest.approx(19.08)
    assert s.oculomotor == pytest.approx(37.90)
    assert s.disorientation == pytest.approx(13.92)
    assert s.total == pytest.approx(29.92)          # (2 + 5 + 1) x 3.74


def test_ssq_extremes():
    assert score_ssq([0] * 16).total == 0.0
    top = score_ssq([3] * 16)
    assert (top.nausea_raw, top.oculomotor_raw, top.disorientation_raw) == (21, 21, 18)
    assert top.nausea == pytest.approx(200.34) and top.disorientation == pytest.approx(250.56)
    assert top.total == pytest.approx(224.4)


def test_ssq_rejects_bad_answers_in_one_line():
    for bad, words in (([0] * 15, "15 answers given"), ([0] * 15 + [4], "item 16"),
                       ([0] * 15 + [None], "item 16"), ("0" * 16, "must be a list")):
        with pytest.raises(QuestionnaireError) as err:
            score_ssq(bad)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_pcs_subscales_hand_computed():
    answers = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2]
    # rumination 8-11 = 2+3+4+0; magnification 6,7,13 = 0+1+2; helplessness 1-5,12 = 10+1
    assert score_pcs(answers) == {"rumination": 9, "magnification": 3, "helplessness": 11,
                                  "total": 23}
    assert score_pcs([4] * 13)["total"] == 52
    with pytest.raises(QuestionnaireError):
        score_pcs([5] + [0] * 12)


def test_pain_flare_threshold_comes_from_the_settings():
    from vrgmi.settings import SafetySettings
    assert SafetySettings().flare_rise == 3
    assert pain_flare(1, 1 + SafetySettings().flare_rise) and not pain_flare(1, 3)


def test_ssq_alerts_on_a_high_total_a_rise_over_the_baseline_and_a_severe_symptom():
    from vrgmi.measures.questionnaires import ssq_alerts
    assert ssq_alerts([0] * 16) == [] and ssq_alerts([1] + [0] * 15) == []
    high = [1] * 6 + [0] * 10                     # raw N 2, O 5, D 1: total 29.92
    assert score_ssq(high).total == pytest.approx(29.92)
    (why,) = ssq_alerts(high)
    assert why.startswith("SSQ total 29.9")
    rise = [1, 1, 1, 1] + [0] * 12               # total 18.7: under 20, but 18.7 above 0
    assert ssq_alerts(rise) == []
    (why,) = ssq_alerts(rise, baseline_total=0.0)
    assert "above the baseline" in why
    assert ssq_alerts(rise, baseline_total=7.48) == []
    severe = [0] * 7 + [3] + [0] * 8                # nausea severe: total only 11.22
    assert ssq_alerts(severe) == ["severe nausea"]
    assert ssq_alerts(severe, severe_alert=False) == []
    with pytest.raises(QuestionnaireError):
        ssq_alerts([None] * 16)


def test_nrs_and_ssq_scenes_start_with_nothing_selected():
    from vrgmi.input import InputEvent
    from vrgmi.scenes.base import SceneFrame
    from vrgmi.scenes.nrs import PainNRS
    from vrgmi.scenes.ssq import SSQ

    def frame(t, *actions):
        return SceneFrame(t, 0, [InputEvent(a, t, "script") for a in actions], None, False,
                          None, None, 1.0, None)

    nrs = PainNRS()
    assert nrs.value is None and "start" not in nrs.difficulty.as_dict()
    nrs.update(frame(0.1, "select", "select"), 0.1)
    assert nrs.answer is None                                 # confirm does nothing
    nrs.update(frame(0.2, "left", "left"), 0.1)
    assert nrs.value == 9                                     # left enters at 10
    ssq = SSQ()
    ssq.update(frame(0.1, *["select"] * 16), 0.1)
    assert ssq.item == 0 and ssq.answers == [None] * 16
    ssq.update(frame(0.2, "right", "select", "select"), 0.1)
    assert ssq.answers[0] == 0 and ssq.item == 1 and ssq.cursor is None
