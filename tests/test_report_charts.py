"""The progress charts and report on what the tasks really record: a simulated patient
(tests/patient_sim.py: real laterality stimuli, KVIQ scoring and mirror reach task) and
hand-computed cases. Mirror charts read what mirror trials emit, KVIQ is a mean per item,
and the laterality side difference, RT by angle and medial/lateral effect are charted."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle
from matplotlib.text import Text

from patient_sim import AFFECTED, fill_simulated
from records_data import fill_history
from vrgmi.events import Event
from vrgmi.export import plots
from vrgmi.export.fhir import CODE_SYSTEM, bundle_json
from vrgmi.export.report_pdf import PAGE_COUNT, _latest_lines, report_bytes
from vrgmi.imagery.kviq import KviqAnswer, scores
from vrgmi.records import RecordSink, open_database
from vrgmi.records import queries as q
from vrgmi.settings import NormsSettings, load_settings


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("charts") / "records.sqlite3"
    database = open_database(f"sqlite:///{path}")
    fill_simulated(database, "P10", weeks=2, laterality_trials=24)
    sink = RecordSink(database)
    fill_history(sink, "P01", 2)
    sink.close()
    yield database
    database.close()


@pytest.fixture(scope="module")
def prog(db):
    return q.progress(db, "P10")


def _plotted(fig, axes: int | None = None) -> list[np.ndarray]:
    """The y data of every line with markers drawn on the figure's axes (or on one)."""
    chosen = fig.axes if axes is None else [fig.axes[axes]]
    return [np.asarray(line.get_ydata(), dtype=float) for ax in chosen
            for line in ax.get_lines() if line.get_marker() not in (None, "None", "")]


def _says_no_data(fig) -> bool:
    return any(isinstance(t, Text) and t.get_text() == "no data yet"
               for ax in fig.axes for t in ax.texts)


def test_mirror_chart_shows_what_mirror_trials_emit(prog):
    rows = prog["mirror"]
    assert rows and {r["scene"] for r in rows} == {"reach_targets"}
    assert all(r["score"] is None for r in rows)             # no task emits a score
    assert all(0.0 <= r["success_rate"] <= 1.0 and r["time_s"] > 0.5 for r in rows)
    fig = plots.figure_mirror(prog)
    ys = _plotted(fig)
    assert not _says_no_data(fig) and len(ys) == 2
    assert np.allclose(ys[0], [100 * r["success_rate"] for r in rows])
    assert np.allclose(ys[1], [r["time_s"] for r in rows])


def test_kviq_is_charted_as_the_mean_per_item(tmp_path):
    # identical 4/4 ratings: 3 items (a sum of 12) in session 1, 1 item (4) in session 2
    database = open_database(f"sqlite:///{tmp_path / 'k.sqlite3'}")
    sink = RecordSink(database)
    items = ("shoulder_elevation", "forward_shoulder_flexion", "elbow_flexion_extension")
    for k, rated in enumerate((items, items[:1])):
        sid = f"K1-s{k + 1}"
        sink.put(Event("session_started", 0.0, {"patient": "K1", "phase": "imagery",
                                                "side": "left", "level": "transradial"},
                       "", sid, 1.7e9 + 86400 * k))
        answers = [KviqAnswer(i, 4, 4) for i in rated]
        sink.put(Event("questionnaire", 1.0, {"instrument": "kviq", "moment": "post",
                                              "answers": [], "scores": scores(answers)},
                       "imagery", sid, 1.7e9 + 86400 * k + 1))
    sink.close()
    prog = q.progress(database, "K1")
    assert [(k["visual"], k["visual_mean"], k["kinesthetic_mean"]) for k in prog["kviq"]] == \
        [(12.0, 4.0, 4.0), (4.0, 4.0, 4.0)]
    fig = plots.figure_imagery(prog)
    assert [list(y) for y in _plotted(fig, axes=1)] == [[4.0, 4.0], [4.0, 4.0]]
    assert fig.axes[1].get_ylabel() == "mean rating per item (1-5)"
    database.close()


def test_kviq_item_mean_from_each_kind_of_score():
    assert q.kviq_item_mean({"visual_mean": 3.5}, "visual") == 3.5
    assert q.kviq_item_mean({"visual_sum": 9, "visual_n": 3}, "visual") == 3.0
    assert q.kviq_item_mean({"kviq10_visual": 20}, "visual") == 4.0
    assert q.kviq_item_mean({"kviq20_kinesthetic": 30}, "kinesthetic") == 3.0
    assert q.kviq_item_mean({"visual": 18}, "visual") is None      # item count unknown


def test_side_difference_by_hand(db):
    # records_data session 1: left (the affected side) median RT 2.84 s, 50 %; right
    # 3.06 s, 60 %
    diff = q.progress(db, "P01")["laterality_difference"][0]
    assert (diff["side"], diff["minus"]) == ("left", "right")
    assert diff["rt_s"] == pytest.approx(2.84 - 3.06)
    assert diff["accuracy"] == pytest.approx(0.5 - 0.6)


def test_side_difference_angle_and_medial_lateral_of_the_simulated_patient(prog):
    diff = prog["laterality_difference"]
    assert len(diff) == 14 and all(d["side"] == AFFECTED for d in diff)
    assert np.mean([d["rt_s"] for d in diff]) > 0.15          # the affected side is slower
    first = [r for r in prog["laterality_angle"] if r["group"] == "first"]
    latest = [r for r in prog["laterality_angle"] if r["group"] == "latest"]
    assert first[0]["sessions"] == ["P10-s01", "P10-s02", "P10-s03"]
    assert latest[0]["sessions"] == ["P10-s12", "P10-s13", "P10-s14"]
    assert first[0]["slope_ms_per_deg"] > 0.0                 # RT grows with the angle
    assert np.median([r["rt_s"] for r in latest]) < np.median([r["rt_s"] for r in first])
    ml = prog["medial_lateral"]
    assert len(ml) == 14 and all(r["multi_axis"] for r in ml)
    assert np.mean([r["lateral_minus_medial_s"] for r in ml
                    if r["lateral_minus_medial_s"] is not None]) > 0.1
    for name, keys in (("laterality_difference", ("rt_s", "accuracy")),
                       ("medial_lateral", ("medial_rt_s", "lateral_rt_s"))):
        fig = plots.PLOTS[name](prog)
        assert not _says_no_data(fig)
        rows = prog[name]
        assert [len(y) for y in _plotted(fig)] == [
            sum(r[key] is not None for r in rows) for key in keys]
    fig = plots.figure_laterality_angle(prog)
    assert [len(y) for y in _plotted(fig)] == [len(first), len(latest)]


def test_report_verdict_uses_the_gates_rule(prog):
    # a 1.30 s median is faster than the band: it meets the norm (the gate passes it)
    fast = {**prog, "laterality": [{**prog["laterality"][-1], "accuracy": 0.9,
                                    "rt_s": 1.30}]}
    assert "(meets the norm)" in _latest_lines(fast)[0]
    slow = {**prog, "laterality": [{**prog["laterality"][-1], "accuracy": 0.9,
                                    "rt_s": 2.6}]}
    assert "(does not meet the norm)" in _latest_lines(slow)[0]


def test_simulated_report_renders_every_page(db, tmp_path):
    data = report_bytes(db, "P10")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == PAGE_COUNT == 7
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True)
    assert len(list(tmp_path.glob("page-*.png"))) == 7


def test_fhir_carries_the_mirror_share_completed(db, prog):
    bundle = Bundle.model_validate_json(bundle_json(db, "P10"))
    shares = [r.valueQuantity.value for r in (e.resource for e in bundle.entry)
              if r.get_resource_type() == "Observation" and r.code.coding[0].system ==
              CODE_SYSTEM and r.code.coding[0].code == "mirror-task-success"]
    assert shares == [pytest.approx(100 * r["success_rate"]) for r in prog["mirror"]]


def test_charts_take_their_norms_from_the_settings(db):
    settings = load_settings(None, ["norms.rt_mean_s=1.8", "norms.max_side_rt_diff_s=0.2"])
    prog = q.progress(db, "P10", q.report_norms(settings.norms))
    assert q.report_norms() == q.NORMS and q.NORMS["rt_mean_s"] == NormsSettings().rt_mean_s
    labels = [t.get_text() for t in
              plots.figure_laterality_rt(prog).axes[0].get_legend().get_texts()]
    assert "norm (1.8 ± 0.5 s)" in labels
    labels = [t.get_text() for t in
              plots.figure_laterality_difference(prog).axes[0].get_legend().get_texts()]
    assert "about equal (± 0.2 s)" in labels
