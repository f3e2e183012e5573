"""The outcome charts, shared by the companion and the clinic report PDF (object API and the
Agg canvas only, like :mod:`vrgmi.export.plots`; Okabe-Ito colours, markers as well as
colours).

* :func:`figure_patient` - one patient's 0-10 scores at each time point (average and worst
  phantom pain, residual-limb pain, interference; function (PSFS) dashed: higher is better);
* :func:`figure_responders` - the clinic's responder rates at each time point (30 % and
  50 % less average pain than at baseline; solid among those who answered, outlined with
  every drop-out counted as a non-responder), with the counts;
* :func:`figure_change` - every patient's percent change of average pain from baseline
  (grey lines) and the median with its interquartile range.
"""
from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure, SubFigure

from vrgmi.export.plots import PALETTE, _new
from vrgmi.outcomes.analysis import PRIMARY, relative_change
from vrgmi.outcomes.schedule import BASELINE, label, order_key

PATIENT_LINES = (("pain.average", "average phantom pain", "o", "-"),
                 ("pain.worst", "worst phantom pain", "v", "-"),
                 ("sensation.residual_pain", "residual-limb pain", "s", "-"),
                 ("interference.mean", "interference (mean)", "D", "-"),
                 ("psfs.mean", "function (PSFS, higher is better)", "^", "--"))


def _short(tp: str) -> str:
    return label(tp).replace("follow-up ", "FU ").replace(" months", " mo").replace(
        " month", " mo").replace("end of treatment", "end").replace("start of ", "")


def _no_data(ax: Any) -> None:
    ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center",
            color="#777777", fontsize=12)


def _style(ax: Any, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def figure_patient(outcomes: dict[str, Any], fig: Figure | SubFigure | None = None) -> Any:
    """A patient's 0-10 outcome scores by time point (:func:`vrgmi.outcomes.store.
    patient_outcomes`)."""
    fig = _new(fig, tall=True)
    ax = fig.add_subplot()
    _style(ax, f"Outcomes of {outcomes['patient']} (0-10 scales)", "rating (0-10)")
    record = outcomes["record"]
    tps = sorted(record, key=order_key)
    drawn = False
    for (key, name, marker, style), color in zip(PATIENT_LINES, PALETTE):
        pts = [(i, record[tp][key]) for i, tp in enumerate(tps) if key in record[tp]]
        if pts:
            ax.plot(*zip(*pts), marker=marker, linestyle=style, color=color, label=name)
            drawn = True
    ax.set_xticks(range(len(tps)), [_short(tp) for tp in tps], fontsize=8)
    ax.set_xlim(-0.5, max(len(tps), 1) - 0.5)
    ax.set_ylim(-0.3, 10.3)
    if drawn:
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1),
                  ncol=3)
    else:
        _no_data(ax)
    return fig


def figure_responders(summary: dict[str, Any], fig: Figure | SubFigure | None = None) -> Any:
    """Responder rates by time point (:func:`vrgmi.outcomes.analysis.clinic_summary`)."""
    fig = _new(fig)
    ax = fig.add_subplot()
    rows = [r for r in summary["timepoints"] if r["evaluable"] or r["dropouts"]]
    _style(ax, f"Responders: average phantom pain vs baseline "
               f"({summary['with_baseline']} patients with a baseline)", "patients (%)")
    width = 0.38
    for k, (key, color) in enumerate((("30", PALETTE[0]), ("50", PALETTE[2]))):
        pct = rows[0]["responders"][key]["percent"] if rows else key
        xs = [i + (k - 0.5) * width for i in range(len(rows))]
        rate = [100 * (r["responders"][key]["rate"] or 0) for r in rows]
        itt = [100 * (r["responders"][key]["rate_itt"] or 0) for r in rows]
        ax.bar(xs, rate, width, color=color, label=f">= {pct} % less pain (answered)")
        ax.bar(xs, itt, width, fill=False, edgecolor="#000000", linewidth=1.0,
               label=f">= {pct} % less pain (drop-outs as non-responders)" if k == 0 else None)
        for x, r, v in zip(xs, rows, rate):
            ax.text(x, v + 1.5, f"{r['responders'][key]['n']}/{r['evaluable']}", ha="center",
                    fontsize=7.5)
    ax.set_xticks(range(len(rows)), [f"{_short(r['timepoint'])}\n({r['dropouts']} dropped)"
                                     for r in rows], fontsize=8)
    ax.set_ylim(0, 110)
    if rows:
        ax.legend(frameon=False, fontsize=7.5, loc="upper left")
    else:
        _no_data(ax)
    return fig


def figure_change(patients: list[dict[str, Any]], summary: dict[str, Any],
                  fig: Figure | SubFigure | None = None) -> Any:
    """Percent change of average phantom pain from baseline: each patient, and the median
    with its interquartile range at each time point."""
    fig = _new(fig)
    ax = fig.add_subplot()
    _style(ax, "Average phantom pain: change from baseline", "change from baseline (%)")
    tps = [BASELINE] + [r["timepoint"] for r in summary["timepoints"] if r["evaluable"]]
    index = {tp: i for i, tp in enumerate(tps)}
    for p in patients:
        base = p["record"].get(BASELINE, {}).get(PRIMARY)
        if not base:
            continue
        pts = [(index[tp], 100 * relative_change(base, s[PRIMARY]))
               for tp, s in sorted(p["record"].items(), key=lambda kv: order_key(kv[0]))
               if tp in index and PRIMARY in s]
        ax.plot(*zip(*pts), color="#bbbbbb", linewidth=0.8, marker=".", zorder=1)
    med = [(0, 0.0, 0.0, 0.0)] + [(index[r["timepoint"]], r["pain_pct"]["median"],
                                   r["pain_pct"]["q1"], r["pain_pct"]["q3"])
                                  for r in summary["timepoints"] if r["evaluable"]]
    xs, m, lo, hi = zip(*med)
    ax.errorbar(xs, m, yerr=[[a - b for a, b in zip(m, lo)], [c - a for a, c in zip(m, hi)]],
                color=PALETTE[1], marker="s", linewidth=2.0, capsize=4, zorder=3,
                label="median and interquartile range")
    for share, style in ((summary["thresholds"]["30"], ":"), (summary["thresholds"]["50"], "--")):
        ax.axhline(-100 * share, color="#009E73", linestyle=style, linewidth=1.0,
                   label=f"{100 * share:g} % less pain")
    ax.set_xticks(range(len(tps)), [_short(tp) for tp in tps], fontsize=8)
    ax.set_ylim(-105, max(60, max(hi) + 10))
    ax.legend(frameon=False, fontsize=7.5, loc="upper right")
    if len(tps) == 1:
        _no_data(ax)
    return fig
