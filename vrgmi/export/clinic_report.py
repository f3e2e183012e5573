"""The clinic's outcomes report as a PDF (matplotlib ``PdfPages``, Agg; no pyplot state).

Pages (A4 portrait):

1. the responder table: per time point after baseline, the patients who answered, the
   drop-outs, the responders at 30 % and 50 % less average phantom pain (among those who
   answered, and with every drop-out counted as a non-responder) and the median percent
   change with its interquartile range; how to read it;
2. the responder chart and every patient's change from baseline with the median and IQR;
3. the median change from baseline of every score at every time point (with IQR and n);
4. the patients: phase, baseline and latest average pain, change, and the next visit due.
"""
from __future__ import annotations

import io
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure, SubFigure

from vrgmi.atomic import write_bytes, write_text
from vrgmi.export.outcome_plots import figure_change, figure_patient, figure_responders
from vrgmi.outcomes.analysis import PRIMARY, score_keys
from vrgmi.outcomes.schedule import BASELINE, Rules, label, order_key
from vrgmi.outcomes.store import clinic_outcomes
from vrgmi.records.db import Database

A4_IN = (8.27, 11.69)
PAGE_COUNT = 4
PATIENT_ROWS = 40


def _page(title: str) -> Figure:
    fig = Figure(figsize=A4_IN)
    FigureCanvasAgg(fig)
    fig.text(0.07, 0.965, title, fontsize=15, weight="bold", va="top")
    return fig


def _num(value: Any, spec: str = ".1f") -> str:
    return "-" if value is None else f"{value:{spec}}"


def _table(fig: Figure | SubFigure, rect: list[float], header: list[str], rows: list[list[str]],
           widths: list[float], size: float = 8.0, row_scale: float = 1.25) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    if not rows:
        ax.text(0.5, 0.9, "no data yet", ha="center", color="#777777")
        return
    table = ax.table(cellText=rows, colLabels=header, colWidths=widths, loc="upper center",
                     cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(size)
    table.scale(1.0, row_scale)
    for (r, _c), cell in table.get_celld().items():
        cell.set_edgecolor("#cccccc")
        if r == 0:
            cell.set_facecolor("#eef1f3")


def _point(value: float, sign: str = "") -> str:
    """A score as a table shows it: whole numbers as they are, others to one decimal."""
    return f"{value:{sign}g}" if float(value).is_integer() else f"{value:{sign}.1f}"


def _rate(r: dict[str, Any]) -> str:
    return f"{r['n']} ({_num(None if r['rate'] is None else 100 * r['rate'], '.0f')} % / " \
           f"{_num(None if r['rate_itt'] is None else 100 * r['rate_itt'], '.0f')} %)"


def _summary_page(data: dict[str, Any], title: str) -> Figure:
    s = data["summary"]
    fig = _page(title)
    lines = [f"Made {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; visits judged "
             f"on {data['today']}.",
             f"{s['patients']} patients, {s['with_baseline']} with a baseline (average phantom "
             "pain, 0-10)."]
    for i, text in enumerate(lines):
        fig.text(0.07, 0.925 - 0.022 * i, text, fontsize=10)
    rows = [[label(r["timepoint"]), str(r["answered"]), str(r["dropouts"]),
             _rate(r["responders"]["30"]), _rate(r["responders"]["50"]),
             f"{_num(r['pain_pct']['median'], '+.0f')} [{_num(r['pain_pct']['q1'], '+.0f')}, "
             f"{_num(r['pain_pct']['q3'], '+.0f')}]"]
            for r in s["timepoints"]]
    t30, t50 = (f"{100 * s['thresholds'][k]:g}" for k in ("30", "50"))
    _table(fig, [0.07, 0.55, 0.86, 0.32],
           ["time point", "answered", "dropped out", f">= {t30} % less pain",
            f">= {t50} % less pain", "median % change [IQR]"], rows,
           [0.22, 0.1, 0.11, 0.19, 0.19, 0.19])
    notes = (
        "How to read it",
        "Responders: patients whose average phantom pain (0-10, past week) is at least "
        f"{t30} % (moderate) or {t50} % (substantial)",
        "below their baseline (IMMPACT benchmarks). n (rate among those who answered / rate "
        "with every drop-out",
        "counted as a non-responder). A patient with a baseline of 0 cannot improve by a share "
        "and is in no rate.",
        "Dropped out: the visit was not done within the [outcomes] dropout window after its "
        "date.",
        "Median % change of average pain from baseline, with the interquartile range "
        "(25th-75th percentile).",
        "In the GMI trial that defined the method (Moseley 2006) pain fell 23.4 mm on a 100 mm "
        "VAS against 10.5 mm",
        "for controls, held at 6 months: compare the trend, and mind small numbers.")
    for i, text in enumerate(notes):
        fig.text(0.07, 0.5 - 0.022 * i, text, fontsize=12 if i == 0 else 9,
                 weight="bold" if i == 0 else "normal")
    fig.text(0.07, 0.04, "Contains health data about pseudonymous patients. Keep it within the "
             "clinic.", fontsize=8.5, color="#666666")
    return fig


def _charts_page(data: dict[str, Any], title: str) -> Figure:
    fig = _page(title)
    top, bottom = fig.subfigures(2, 1)
    for sub in (top, bottom):
        sub.subplots_adjust(left=0.12, right=0.95, top=0.86, bottom=0.16)
    figure_responders(data["summary"], fig=top)
    figure_change(data["patients"], data["summary"], fig=bottom)
    return fig


def _change_page(data: dict[str, Any], title: str) -> Figure:
    fig = _page(title)
    tps = [r for r in data["summary"]["timepoints"] if r["change"]]
    rows = []
    for key in score_keys():
        cells = [f"{_num(c['median'], '+.1f')}  (n={c['n']})\n[{_num(c['q1'], '+.1f')}, "
                 f"{_num(c['q3'], '+.1f')}]" if c else "-"
                 for c in (r["change"].get(key) for r in tps)]
        if any(c != "-" for c in cells):
            rows.append([key.replace(".", ": ").replace("_", " ")] + cells)
    fig.text(0.07, 0.925, "Median change from baseline (n patients) [interquartile range]; "
             "lower is better except psfs and prosthesis.", fontsize=9)
    width = 0.78 / max(len(tps), 1)
    _table(fig, [0.03, 0.05, 0.94, 0.85],
           ["score"] + [label(r["timepoint"]).replace("follow-up", "FU") for r in tps], rows,
           [0.2] + [width] * len(tps), 7.0, row_scale=2.3)
    return fig


def _patients_page(data: dict[str, Any], title: str) -> Figure:
    fig = _page(title)
    rows = []
    for p in data["patients"][:PATIENT_ROWS]:
        rec = p["record"]
        base = rec.get(BASELINE, {}).get(PRIMARY)
        later = [tp for tp in sorted(rec, key=order_key) if tp != BASELINE and PRIMARY in rec[tp]]
        last = rec[later[-1]][PRIMARY] if later else None
        pct = None if base in (None, 0) or last is None else 100 * (last - base) / base
        nxt = next((v for v in p["visits"] if v["status"] in ("overdue", "due", "upcoming")),
                   None)
        rows.append([p["id"], p["phase"] or "-", _num(base, "g"),
                     f"{_num(last, 'g')} ({label(later[-1])})" if later else "-",
                     _num(pct, "+.0f"),
                     f"{label(nxt['timepoint'])}: {nxt['status']} {nxt['date'] or ''}".strip()
                     if nxt else "-"])
    shown = f" (first {PATIENT_ROWS})" if len(data["patients"]) > PATIENT_ROWS else ""
    fig.text(0.07, 0.925, f"Average phantom pain (0-10) at baseline and at the latest visit; "
             f"the next visit{shown}.", fontsize=9)
    _table(fig, [0.04, 0.05, 0.92, 0.85],
           ["patient", "phase", "baseline", "latest", "% change", "next visit"], rows,
           [0.13, 0.11, 0.09, 0.25, 0.09, 0.33], 7.5)
    return fig


def patient_outcomes_page(outcomes: dict[str, Any]) -> Figure:
    """The outcome page of a patient's progress report (:mod:`vrgmi.export.report_pdf`):
    the 0-10 scores by visit, and every score at every visit with its change from baseline
    (:func:`vrgmi.outcomes.store.patient_outcomes`)."""
    fig = _page(f"Outcomes - {outcomes['patient']}")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 1.15])
    top.subplots_adjust(left=0.1, right=0.95, top=0.8, bottom=0.22)
    figure_patient(outcomes, fig=top)
    tps = sorted(outcomes["record"], key=order_key)
    rows = []
    for key, points in outcomes["change"].items():
        by_tp = {r["timepoint"]: r for r in points}
        rows.append([key.replace(".", ": ").replace("_", " ")] + [
            "-" if tp not in by_tp else _point(by_tp[tp]["value"]) + (
                f" ({_point(by_tp[tp]['change'], '+')})" if tp != BASELINE
                and by_tp[tp]["change"] is not None else "") for tp in tps])
    width = 0.74 / max(len(tps), 1)
    bottom.text(0.07, 0.97, "Every score at every visit (change from baseline in points)",
                fontsize=10, va="top")
    _table(bottom, [0.04, 0.02, 0.92, 0.9],
           ["score"] + [label(tp).replace("follow-up", "FU").replace("start of ", "")
                        .replace("end of treatment", "end") for tp in tps], rows,
           [0.22] + [width] * len(tps), 7.0)
    return fig


def clinic_report_bytes(db: Database, today: date | None = None, rules: Rules = Rules(),
                        ids: list[str] | None = None,
                        outcomes: dict[str, Any] | None = None) -> bytes:
    """The clinic's outcomes report PDF (``ids``: only these patients; ``outcomes``: a
    :func:`~vrgmi.outcomes.store.clinic_outcomes` already read)."""
    data = outcomes or clinic_outcomes(db, today, rules, ids)
    buf = io.BytesIO()
    meta = {"Title": "GMI clinic outcomes report", "Creator": "vrgmi", "Author": None}
    with PdfPages(buf, metadata=meta) as pdf:
        pdf.savefig(_summary_page(data, "Clinic outcomes: responders"))
        pdf.savefig(_charts_page(data, "Clinic outcomes: charts"))
        pdf.savefig(_change_page(data, "Clinic outcomes: change of every measure"))
        pdf.savefig(_patients_page(data, "Clinic outcomes: patients"))
    return buf.getvalue()


def export_clinic(db: Database, folder: Path, today: date | None = None,
                  rules: Rules = Rules(), ids: list[str] | None = None,
                  outcomes: dict[str, Any] | None = None) -> list[Path]:
    """Write ``clinic-outcomes.pdf`` and the clinic's CSV tables into ``folder``
    (atomically, each); returns their paths."""
    from vrgmi.export.outcomes_csv import clinic_csv_files

    data = outcomes or clinic_outcomes(db, today, rules, ids)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [write_bytes(folder / "clinic-outcomes.pdf",
                         clinic_report_bytes(db, today, rules, ids, data), "export")]
    paths += [write_text(folder / name, text, "export")
              for name, text in clinic_csv_files(db, outcomes=data).items()]
    return paths


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The responder table and the visits due as plain text lines (``vrgmi outcomes``)."""
    s = data["summary"]
    lines = [f"outcomes on {data['today']}: {s['patients']} patients, {s['with_baseline']} "
             "with a baseline (average phantom pain, 0-10)",
             f"{'time point':<20} {'answered':>8} {'dropped':>8}  {'>=30 %':<16} "
             f"{'>=50 %':<16} median % [IQR]"]
    for r in s["timepoints"]:
        if r["answered"] or r["dropouts"]:
            lines.append(f"{r['label']:<20} {r['answered']:>8} {r['dropouts']:>8}  "
                         f"{_rate(r['responders']['30']):<16} "
                         f"{_rate(r['responders']['50']):<16} "
                         f"{_num(r['pain_pct']['median'], '+.0f')} "
                         f"[{_num(r['pain_pct']['q1'], '+.0f')}, "
                         f"{_num(r['pain_pct']['q3'], '+.0f')}]")
    lines += [f"due: {d['patient']} {d['label']} ({d['status']}"
              f"{', ' + d['date'] if d['date'] else ''})" for d in data["due"]]
    return lines
