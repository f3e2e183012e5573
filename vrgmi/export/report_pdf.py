"""A patient's progress report as a PDF (matplotlib ``PdfPages``, Agg; no pyplot state).

Pages (A4 portrait, always these seven so a therapist finds things in the same place):

1. title: pseudonymous id, amputation side and level, program phase, sessions and dates,
   the latest figures against the norms, and how to read the charts;
2. laterality accuracy and response time by side against the norm band (CLINICAL.md, NOI
   guidance: accuracy >= 80 %, RT 2.0 +/- 0.5 s for hands and feet);
3. laterality effects: the affected - unaffected side difference per session, RT by
   rotation angle (first and latest sessions), medial and lateral RT per session;
4. explicit imagery: chronometry ratio and KVIQ (mean rating per item);
5. pain NRS before/after each session and cybersickness (SSQ);
6. mirror therapy (trials completed, time to complete, per task);
7. a table of the latest sessions;
8. only for a patient with embodiment measures (docs/embodiment.md): the embodiment
   questionnaire, the proprioceptive drift and the touch task's strokes, per session.
last, only for a patient with outcome answers (docs/outcomes.md): the outcome battery's
   scores by visit and their change from baseline.

The norm verdicts use the one rule of :class:`vrgmi.laterality.norms.Norms` (the gate's).
"""
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from vrgmi.atomic import write_bytes
from vrgmi.export import plots
from vrgmi.export.clinic_report import patient_outcomes_page
from vrgmi.export.study_export import study_rows
from vrgmi.laterality.norms import Norms
from vrgmi.outcomes.store import patient_outcomes
from vrgmi.records.db import Database
from vrgmi.records.queries import get_patient, list_sessions, progress

A4_IN = (8.27, 11.69)
PAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Laterality recognition", ("laterality_accuracy", "laterality_rt")),
    ("Laterality: sides, angle, medial and lateral",
     ("laterality_difference", "laterality_angle", "medial_lateral")),
    ("Explicit motor imagery", ("imagery",)),
    ("Pain and comfort", ("nrs", "ssq")),
    ("Mirror therapy", ("mirror", "mirror_watch")),
    ("Sessions", ("sessions",)),
)
SESSION_ROWS = 45
#: study condition codes listed on the title page, at most (the latest)
STUDY_CODES_SHOWN = 24
#: space above a chart (its title; the page title above the first one) and below it (axis
#: label)
MARGIN_TOP_IN, MARGIN_BOTTOM_IN = 0.85, 0.55
PAGE_COUNT = 1 + len(PAGES)
#: the page added after the others when the patient has embodiment measures
EMBODIMENT_PAGE = ("Embodiment", ("embodiment", "touch"))


def _page() -> Figure:
    fig = Figure(figsize=A4_IN)
    FigureCanvasAgg(fig)
    return fig


def _fmt(value: float | None, spec: str, unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def _latest_lines(prog: dict[str, Any]) -> list[str]:
    lines = []
    n = prog["norms"]
    norms = Norms(n["accuracy_min"], n["rt_mean_s"], n["rt_sd_s"])
    if prog["laterality"]:
        last = prog["laterality"][-1]["session"]
        for p in (p for p in prog["laterality"] if p["session"] == last):
            ok = norms.accuracy_ok(p["accuracy"]) and norms.rt_ok(p["rt_s"])
            lines.append(f"Laterality, {p['side']} stimuli: accuracy "
                         f"{100 * p['accuracy']:.0f} %, median RT {_fmt(p['rt_s'], '.2f', ' s')}"
                         f" ({'meets' if ok else 'does not meet'} the norm)")
    if prog["laterality_difference"]:
        d = prog["laterality_difference"][-1]
        lines.append(f"Laterality, {d['side']} - {d['minus']} side: median RT "
                     f"{_fmt(d['rt_s'], '+.2f', ' s')}, accuracy "
                     f"{100 * d['accuracy']:+.0f} points")
    if prog["imagery"]:
        lines.append(f"Imagery chronometry ratio: {prog['imagery'][-1]['ratio']:.2f} "
                     "(1 = imagined as fast as executed)")
    if prog["kviq"]:
        k = prog["kviq"][-1]
        lines.append(f"KVIQ, mean rating per item (1-5): visual "
                     f"{_fmt(k['visual_mean'], '.1f')}, kinesthetic "
                     f"{_fmt(k['kinesthetic_mean'], '.1f')}")
    if prog["mirror"]:
        last = prog["mirror"][-1]["session"]
        for p in (p for p in prog["mirror"] if p["session"] == last):
            rate = None if p["success_rate"] is None else 100 * p["success_rate"]
            lines.append(f"Mirror, {p['scene'].replace('_', ' ')}: {_fmt(rate, '.0f', ' %')} "
                         f"of {p['n']} trials completed, median time "
                         f"{_fmt(p['time_s'], '.1f', ' s')}")
    pairs = [p for p in prog["nrs"] if p["pre"] is not None and p["post"] is not None]
    if pairs:
        change = sum(p["post"] - p["pre"] for p in pairs) / len(pairs)
        lines.append(f"Pain NRS: last {_fmt(pairs[-1]['pre'], '.0f')} before, "
                     f"{_fmt(pairs[-1]['post'], '.0f')} after; mean change within a session "
                     f"{change:+.1f} over {len(pairs)} sessions")
    if prog["ssq"]:
        lines.append(f"SSQ total (latest): {_fmt(prog['ssq'][-1]['total'], '.1f')}")
    lines += _embodiment_lines(prog)
    return lines or ["No measurements yet."]


def _embodiment_lines(prog: dict[str, Any]) -> list[str]:
    """The latest embodiment questionnaire and drift (docs/embodiment.md)."""
    lines = []
    if prog.get("embodiment"):
        e = prog["embodiment"][-1]
        parts = ", ".join(f"{k} {e[k]:+.1f}" for k in ("ownership", "agency", "location",
                                                        "appearance") if e[k] is not None)
        lines.append(f"Embodiment (latest, -3..+3): {_fmt(e['embodiment'], '+.2f')} ({parts})")
    drift = [d for d in prog.get("drift", []) if d["drift_cm"] is not None]
    if drift:
        d = drift[-1]
        lines.append(f"Proprioceptive drift (latest): {d['drift_cm']:+.1f} cm toward the "
                     f"virtual limb ({d['pre_cm']:.1f} cm before, {d['post_cm']:.1f} cm after)")
    return lines


def _title_page(patient: dict[str, Any], prog: dict[str, Any],
                study_codes: list[str] | None = None) -> Figure:
    fig = _page()
    sessions = prog["sessions"]
    program = patient.get("program") or {}
    y = 0.93

    def line(text: str, size: float = 11, weight: str = "normal", gap: float = 0.028,
             color: str = "#222222") -> None:
        nonlocal y
        fig.text(0.09, y, text, fontsize=size, weight=weight, color=color, va="top",
                 wrap=True)
        y -= gap

    line("Graded Motor Imagery: progress report", 20, "bold", 0.05)
    line(f"Patient (pseudonym): {patient['id']}", 13, gap=0.03)
    line(f"Amputation: {patient['amputation_side']} "
         f"{patient['amputation_level'].replace('_', ' ')}")
    phase = program.get("phase")
    since = (program.get("phase_started") or "")[:10]
    line(f"Program phase: {phase} (since {since})" if phase else "Program phase: not set")
    if program:
        line(f"Dose: {program['sessions_per_day']} sessions a day, "
             f"{program['minutes_per_session']:g} minutes each")
    span = (f"{sessions[0]['started'][:10]} to {sessions[-1]['started'][:10]}"
            if sessions else "none yet")
    line(f"Sessions: {len(sessions)} ({span})")
    if study_codes:            # blinded: the codes only (docs/study-conditions.md)
        shown = study_codes[-STUDY_CODES_SHOWN:]
        line(f"Study condition codes, session by session (latest {len(shown)} of "
             f"{len(study_codes)}): {' '.join(shown)}", 10)
    line(f"Report made: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}", gap=0.05)
    line("Latest figures", 14, "bold", 0.035)
    for text in _latest_lines(prog):
        line("- " + text, 10.5, gap=0.026)
    y -= 0.025
    norms = prog["norms"]
    line("How to read the charts", 14, "bold", 0.035)
    side_rt = norms["max_side_rt_diff_s"]
    for text in (
            f"Green bands are the laterality norms (NOI guidance): accuracy at least "
            f"{100 * norms['accuracy_min']:.0f} %,",
            f"response time {norms['rt_mean_s']:.1f} ± {norms['rt_sd_s']:.1f} s (a median "
            f"up to {norms['rt_mean_s'] + norms['rt_sd_s']:.1f} s meets the norm), left and "
            "right about",
            f"equal (within {side_rt:g} s) and stable for at least a week.",
            "Repeating the task alone makes answers 8-20 % faster: read the trend across",
            "sessions, not one session. Patients with limb pain are often slower for the",
            "affected side: sides are shown separately and as affected minus other.",
            "Response time grows with the rotation angle, and lateral rotations (fingers away",
            "from the midline) are slower than medial ones when rotated about two axes.",
            "KVIQ is shown as the mean rating per item (1-5), whatever the number of items.",
            "A rise in pain of 3 or more points within a session is a flare to discuss."):
        line(text, 10, gap=0.022)
    fig.text(0.09, 0.04, "Contains health data about a pseudonymous patient. Keep it within "
             "the clinic.", fontsize=8.5, color="#666666")
    return fig


def _chart_page(title: str, names: tuple[str, ...], prog: dict[str, Any],
                sessions: list[dict[str, Any]]) -> Figure:
    fig = _page()
    fig.suptitle(f"{title} - {prog['patient']}", fontsize=14, x=0.09, ha="left", y=0.975)
    ratios = [1.5 if name in plots.TALL else 1.0 for name in names]
    subs = fig.subfigures(len(names), 1, squeeze=False, height_ratios=ratios)[:, 0]
    for sub, name, ratio in zip(subs, names, ratios):
        height_in = A4_IN[1] * ratio / sum(ratios)          # margins in inches, not shares
        sub.subplots_adjust(left=0.12, right=0.95, top=1.0 - MARGIN_TOP_IN / height_in,
                            bottom=MARGIN_BOTTOM_IN / height_in, hspace=0.55)
        if name == "sessions":
            _sessions_table(sub, sessions)
        else:
            plots.PLOTS[name](prog, fig=sub)
    return fig


def _sessions_table(sub: Any, sessions: list[dict[str, Any]]) -> None:
    """The latest sessions as a table: number, date, phase, minutes, trials, NRS."""
    ax = sub.add_subplot()
    ax.axis("off")
    shown = sessions[-SESSION_ROWS:]
    first = len(sessions) - len(shown) + 1
    rows = [[str(first + i), (s["started"] or "")[:16].replace("T", " "), s["phase"],
             _fmt(s["minutes"], ".0f"), str(s["trials"]), _fmt(s["nrs_pre"], ".0f"),
             _fmt(s["nrs_post"], ".0f"), s["reason_ended"] or "-"]
            for i, s in enumerate(shown)]
    ax.set_title(f"Sessions (latest {len(shown)} of {len(sessions)})", fontsize=12, loc="left")
    if not rows:
        ax.text(0.5, 0.5, "no sessions yet", ha="center", va="center", color="#777777")
        return
    table = ax.table(cellText=rows, colLabels=["#", "started (UTC)", "phase", "min", "trials",
                                                "NRS pre", "NRS post", "ended"],
                     colWidths=[0.05, 0.22, 0.13, 0.07, 0.08, 0.1, 0.1, 0.15],
                     loc="upper center", cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1.0, 1.15)
    for cell in table.get_celld().values():
        cell.set_edgecolor("#cccccc")


def write_report(db: Database, patient_id: str, out: Path | io.BytesIO,
                 progress_cb: Callable[[str], None] | None = None,
                 norms: dict[str, float] | None = None) -> Path | io.BytesIO:
    """Write the patient's progress report PDF to ``out`` (a path or a binary buffer);
    ``norms``: :func:`vrgmi.records.queries.report_norms` of the settings in force
    (default: the settings' defaults)."""
    say = progress_cb or (lambda _m: None)
    if not isinstance(out, io.BytesIO):          # a file: built in memory, written atomically
        write_bytes(out, report_bytes(db, patient_id, norms, say), "export")
        return out
    say(f"report: reading the records of {patient_id}")
    patient = get_patient(db, patient_id)
    prog = progress(db, patient_id, norms)
    sessions = list_sessions(db, patient_id)
    meta = {"Title": f"GMI progress report {patient_id}", "Creator": "vrgmi", "Author": None}
    with PdfPages(out, metadata=meta) as pdf:
        say("report: title page")
        codes = [r["code"] for r in study_rows(db, patient_id)]
        pdf.savefig(_title_page(patient, prog, codes))
        extra = (EMBODIMENT_PAGE,) if any(prog.get(k) for k in ("embodiment", "drift",
                                                                 "touch")) else ()
        for title, names in PAGES + extra:
            say(f"report: {title.lower()}")
            pdf.savefig(_chart_page(title, names, prog, sessions))
        outcomes = patient_outcomes(db, patient_id)      # the battery (docs/outcomes.md)
        if outcomes["answers"]:
            say("report: outcomes")
            pdf.savefig(patient_outcomes_page(outcomes))
    say(f"report: {PAGE_COUNT + len(extra) + bool(outcomes['answers'])} pages written")
    return out


def report_bytes(db: Database, patient_id: str, norms: dict[str, float] | None = None,
                 progress_cb: Callable[[str], None] | None = None) -> bytes:
    """The report PDF as bytes (what the companion sends)."""
    buf = io.BytesIO()
    write_report(db, patient_id, buf, progress_cb, norms)
    return buf.getvalue()
