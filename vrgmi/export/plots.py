"""The progress charts, shared by the PDF report and the companion's patient pages.

Each chart is built from :func:`vrgmi.records.queries.progress` output by a ``figure_*``
function that draws into a given figure or subfigure (the PDF puts two on a page) or into a
new matplotlib :class:`~matplotlib.figure.Figure` that it returns (object API and the Agg
canvas only: no pyplot state, so the companion may draw from its own thread), and
:func:`render` turns one into PNG or SVG bytes. The x axis is the session number (1 = the
patient's first session): several sessions a day are normal (CLINICAL.md), so dates would
bunch up. Colours are the Okabe-Ito palette (readable with colour blindness), and left and
right differ by marker as well as colour.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure, SubFigure

from vrgmi.errors import VrgmiError

SIDE_STYLE = {"left": {"color": "#0072B2", "marker": "o", "label": "left stimuli"},
              "right": {"color": "#D55E00", "marker": "s", "label": "right stimuli"}}
BAND = {"color": "#009E73", "alpha": 0.15}
PRE_POST = {"pre": {"color": "#CC79A7", "marker": "o", "label": "before session"},
            "post": {"color": "#0072B2", "marker": "v", "label": "after session"}}
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
SIZE_IN = (7.0, 3.6)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
MARKERS = "os^Dv<"


class PlotError(VrgmiError, ValueError):
    """An unknown chart name or image format."""


def _numbering(progress: dict[str, Any]) -> dict[str, int]:
    return {s["id"]: i + 1 for i, s in enumerate(progress["sessions"])}


def _new(fig: Figure | SubFigure | None, tall: bool = False) -> Figure | SubFigure:
    if fig is None:
        fig = Figure(figsize=(SIZE_IN[0], SIZE_IN[1] * (1.6 if tall else 1.0)),
                     layout="constrained")
        FigureCanvasAgg(fig)
    return fig


def _axes(title: str, ylabel: str, fig: Figure | SubFigure | None) -> tuple[Any, Axes]:
    fig = _new(fig)
    ax = fig.add_subplot()
    _style(ax, title, ylabel)
    return fig, ax


def _style(ax: Axes, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_xlabel("session")
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)


def _line(ax: Axes, num: dict[str, int], rows: list[dict[str, Any]], key: str,
          scale: float = 1.0, **style: Any) -> list[float]:
    """Plot ``scale * row[key]`` against the session number for the rows where it is known;
    returns the values plotted."""
    pts = [(num[p["session"]], scale * p[key]) for p in rows if p[key] is not None]
    if pts:
        ax.plot(*zip(*pts), **style)
    return [y for _, y in pts]


def _finish(ax: Axes, n_sessions: int, has_data: bool, legend: bool = True,
            legend_loc: str = "best") -> None:
    ax.set_xlim(0.5, max(n_sessions, 1) + 0.5)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if not has_data:
        ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center",
                color="#777777", fontsize=12)
    elif legend:
        ax.legend(frameon=False, fontsize=8, loc=legend_loc)


def figure_laterality_accuracy(progress: dict[str, Any],
                               fig: Figure | SubFigure | None = None) -> Any:
    """Laterality accuracy (%) per session for left and right stimuli, with the norm band
    (accuracy at or above ``norms['accuracy_min']``, 80 % by default)."""
    num = _numbering(progress)
    fig, ax = _axes("Laterality: accuracy by side", "accuracy (%)", fig)
    floor = 100.0 * progress["norms"]["accuracy_min"]
    ax.axhspan(floor, 100.0, **BAND, label=f"norm (>= {floor:.0f} %)")
    for side, style in SIDE_STYLE.items():
        _line(ax, num, [p for p in progress["laterality"] if p["side"] == side], "accuracy",
              100.0, **style, linewidth=1.5)
    ax.set_ylim(0, 102)
    _finish(ax, len(num), bool(progress["laterality"]))
    return fig


def figure_laterality_rt(progress: dict[str, Any],
                         fig: Figure | SubFigure | None = None) -> Any:
    """Median response time (s, correct trials) per session and side, with the norm band
    (``rt_mean_s`` +/- ``rt_sd_s``: 2.0 +/- 0.5 s for hands and feet by default)."""
    num = _numbering(progress)
    fig, ax = _axes("Laterality: response time by side", "median RT (s)", fig)
    mean, sd = progress["norms"]["rt_mean_s"], progress["norms"]["rt_sd_s"]
    ax.axhspan(mean - sd, mean + sd, **BAND, label=f"norm ({mean:.1f} ± {sd:.1f} s)")
    top = mean + sd
    for side, style in SIDE_STYLE.items():
        ys = _line(ax, num, [p for p in progress["laterality"] if p["side"] == side], "rt_s",
                   **style, linewidth=1.5)
        top = max([top, *ys])
    ax.set_ylim(0, top * 1.15)
    _finish(ax, len(num), bool(progress["laterality"]))
    return fig


def figure_imagery(progress: dict[str, Any],
                   fig: Figure | SubFigure | None = None) -> Any:
    """Explicit imagery: the median chronometry ratio (imagined / executed; 1 = same time)
    per session, and KVIQ visual and kinesthetic totals."""
    num = _numbering(progress)
    fig = _new(fig, tall=True)
    ax1, ax2 = fig.subplots(2, 1)
    _style(ax1, "Imagery: mental chronometry", "imagined / executed")
    ax1.axhline(1.0, color=BAND["color"], linewidth=1.2, linestyle="--", label="ratio 1")
    ys = _line(ax1, num, progress["imagery"], "ratio", color="#0072B2", marker="o",
               linewidth=1.5, label="median ratio")
    ax1.set_ylim(0, max(2.0, max(ys) * 1.15) if ys else 2.0)
    _finish(ax1, len(num), bool(ys))
    _style(ax2, "Imagery: KVIQ ratings", "mean rating per item (1-5)")
    kviq = [p for p in progress["kviq"] if p["session"] in num]
    shown = []
    for key, color, marker in (("visual", "#0072B2", "o"), ("kinesthetic", "#D55E00", "s")):
        shown += _line(ax2, num, kviq, f"{key}_mean", color=color, marker=marker,
                       linewidth=1.5, label=f"{key} (1 none - 5 as if seen / done)")
    ax2.set_ylim(0.8, 5.2)
    ax2.set_yticks([1, 2, 3, 4, 5])
    _finish(ax2, len(num), bool(shown))
    return fig


def figure_mirror(progress: dict[str, Any],
                  fig: Figure | SubFigure | None = None) -> Any:
    """Mirror therapy, per session and task (scene): the share of trials completed within
    their limits (%) and the median time (s) of the completed ones, what every mirror
    task's trials carry (``success``, ``time_s``)."""
    num = _numbering(progress)
    fig = _new(fig, tall=True)
    ax1, ax2 = fig.subplots(2, 1)
    _style(ax1, "Mirror therapy: trials completed", "completed (%)")
    _style(ax2, "Mirror therapy: time to complete", "median time (s)")
    scenes = sorted({p["scene"] for p in progress["mirror"]})
    rates: list[float] = []
    times: list[float] = []
    for i, scene in enumerate(scenes):
        rows = [p for p in progress["mirror"] if p["scene"] == scene]
        style = {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)],
                 "linewidth": 1.5, "label": scene.replace("_", " ")}
        rates += _line(ax1, num, rows, "success_rate", 100.0, **style)
        times += _line(ax2, num, rows, "time_s", **style)
    ax1.set_ylim(0, 105)
    ax2.set_ylim(0, max(times) * 1.15 if times else 1.0)
    _finish(ax1, len(num), bool(rates), legend_loc="lower left")
    _finish(ax2, len(num), bool(times))
    return fig


def figure_mirror_watch(progress: dict[str, Any],
                        fig: Figure | SubFigure | None = None) -> Any:
    """Mirror therapy, per session and task: the share of trial time (%) the mirrored hand
    or foot was within the central view (``watch_share``; mirror therapy works through
    watching the mirror image, docs/mirror-tasks.md). Colours as in :func:`figure_mirror`."""
    num = _numbering(progress)
    fig, ax = _axes("Mirror therapy: watching the mirrored limb", "time watched (%)", fig)
    scenes = sorted({p["scene"] for p in progress["mirror"]})
    shown: list[float] = []
    for i, scene in enumerate(scenes):
        rows = [p for p in progress["mirror"]
                if p["scene"] == scene and p.get("watch_share") is not None]
        shown += _line(ax, num, rows, "watch_share", 100.0, color=PALETTE[i % len(PALETTE)],
                       marker=MARKERS[i % len(MARKERS)], linewidth=1.5,
                       label=scene.replace("_", " "))
    ax.set_ylim(0, 105)
    _finish(ax, len(num), bool(shown), legend_loc="lower left")
    return fig


def figure_laterality_difference(progress: dict[str, Any],
                                 fig: Figure | SubFigure | None = None) -> Any:
    """Left against right per session: the affected side's median RT and accuracy minus
    the other side's (right - left when the side is not known), with the "about equal"
    band (``max_side_rt_diff_s``, ``max_side_accuracy_diff`` of the ``[norms]``
    settings). Above zero: the affected side is slower / more accurate."""
    num = _numbering(progress)
    fig = _new(fig, tall=True)
    ax1, ax2 = fig.subplots(2, 1)
    rows = progress["laterality_difference"]
    pair = title = "affected - other"
    if rows:
        pair = title = f"{rows[0]['side']} - {rows[0]['minus']}"
        if rows[0]["side"] == progress.get("side"):
            title = f"{rows[0]['side']} (affected) - {rows[0]['minus']}"
    _style(ax1, f"Laterality: response time, {title}", "RT difference (s)")
    _style(ax2, f"Laterality: accuracy, {title}", "difference (points)")
    norms = progress["norms"]
    rt_band, acc_band = norms["max_side_rt_diff_s"], 100.0 * norms["max_side_accuracy_diff"]
    style = {"color": "#000000", "marker": "o", "linewidth": 1.5}
    for ax, key, scale, band, unit in ((ax1, "rt_s", 1.0, rt_band, " s"),
                                       (ax2, "accuracy", 100.0, acc_band, " points")):
        ax.axhspan(-band, band, **BAND, label=f"about equal (± {band:g}{unit})")
        ax.axhline(0.0, color="#777777", linewidth=0.8)
        ys = _line(ax, num, rows, key, scale, **style, label=pair)
        top = max([band, *(abs(y) for y in ys)]) * 1.25
        ax.set_ylim(-top, top)
        _finish(ax, len(num), bool(ys))
    return fig


def figure_laterality_angle(progress: dict[str, Any],
                            fig: Figure | SubFigure | None = None) -> Any:
    """Median RT of correct answers by the stimulus's rotation angle (30-degree bins), in
    the first sessions and in the latest ones, with the least-squares slope (ms per
    degree): RT grows with the angle (CLINICAL.md); training flattens and lowers it."""
    fig = _new(fig)
    ax = fig.add_subplot()
    _style(ax, "Laterality: response time by rotation angle", "median RT (s)")
    ax.set_xlabel("rotation angle (deg)")
    rows = progress["laterality_angle"]
    num = _numbering(progress)
    shown: list[float] = []
    for group, color, marker in (("first", "#999999", "o"), ("latest", "#0072B2", "s")):
        part = [r for r in rows if r["group"] == group and r["rt_s"] is not None]
        if not part:
            continue
        first, last = num[part[0]["sessions"][0]], num[part[0]["sessions"][-1]]
        slope = part[0]["slope_ms_per_deg"]
        label = (f"sessions {first}-{last}" if last > first else f"session {first}") + (
            "" if slope is None else f" ({slope:+.1f} ms/deg)")
        ax.plot([r["angle_deg"] for r in part], [r["rt_s"] for r in part], color=color,
                marker=marker, linewidth=1.5, label=label)
        shown += [r["rt_s"] for r in part]
    ax.set_xlim(-10, 190)
    ax.set_xticks(range(0, 181, 30))
    ax.set_ylim(0, max(shown) * 1.15 if shown else 1.0)
    if not shown:
        ax.text(0.5, 0.5, "no data yet", transform=ax.transAxes, ha="center", va="center",
                color="#777777", fontsize=12)
    else:
        ax.legend(frameon=False, fontsize=8, loc="best")
    return fig


def figure_medial_lateral(progress: dict[str, Any],
                          fig: Figure | SubFigure | None = None) -> Any:
    """Median RT of correct answers for medial and lateral stimuli per session (fingers
    or toes pointing toward / away from the body midline), over the trials rotated about
    more than one axis where there are any: there lateral is expected slower
    (CLINICAL.md)."""
    num = _numbering(progress)
    rows = progress["medial_lateral"]
    multi = bool(rows) and all(r["multi_axis"] for r in rows)
    fig, ax = _axes("Laterality: medial and lateral rotations" +
                    (" (about more than one axis)" if multi else ""), "median RT (s)", fig)
    ys = []
    for key, color, marker, label in (("medial_rt_s", "#009E73", "o", "medial"),
                                      ("lateral_rt_s", "#CC79A7", "^", "lateral")):
        ys += _line(ax, num, rows, key, color=color, marker=marker, linewidth=1.5,
                    label=label)
    ax.set_ylim(0, max(ys) * 1.15 if ys else 1.0)
    _finish(ax, len(num), bool(ys))
    return fig


def figure_nrs(progress: dict[str, Any],
               fig: Figure | SubFigure | None = None) -> Any:
    """Pain NRS (0-10) before and after each session."""
    num = _numbering(progress)
    fig, ax = _axes("Pain (NRS 0-10) before and after each session", "NRS", fig)
    for moment, style in PRE_POST.items():
        _line(ax, num, progress["nrs"], moment, **style, linewidth=1.2)
    for p in progress["nrs"]:
        if p["pre"] is not None and p["post"] is not None:
            x = num[p["session"]]
            ax.plot([x, x], [p["pre"], p["post"]], color="#999999", linewidth=0.8, zorder=0)
    ax.set_ylim(-0.3, 10.3)
    _finish(ax, len(num), bool(progress["nrs"]))
    return fig


def figure_ssq(progress: dict[str, Any],
               fig: Figure | SubFigure | None = None) -> Any:
    """Cybersickness: the SSQ total score after each session (and its three weighted
    subscales), with the pre-session baseline total dashed."""
    num = _numbering(progress)
    fig, ax = _axes("Cybersickness (SSQ)", "weighted score", fig)
    rows = [p for p in progress["ssq"] if p["session"] in num and p.get("moment") != "pre"]
    base = [p for p in progress["ssq"] if p["session"] in num and p.get("moment") == "pre"]
    for key, color, marker in (("total", "#000000", "o"), ("nausea", "#009E73", "^"),
                               ("oculomotor", "#0072B2", "s"),
                               ("disorientation", "#D55E00", "D")):
        _line(ax, num, rows, key, color=color, marker=marker,
              linewidth=1.8 if key == "total" else 0.9, label=key)
    _line(ax, num, base, "total", color="#777777", marker="o", linestyle="--",
          linewidth=1.2, label="total before (baseline)")
    ax.set_ylim(bottom=0)
    _finish(ax, len(num), bool(rows or base))
    return fig


def _session_means(progress: dict[str, Any], series: str, key: str) -> list[dict[str, Any]]:
    """Rows of ``progress[series]`` averaged per session for ``key`` (None rows left out):
    ``[{"session", key}]`` in session order."""
    sums: dict[str, list[float]] = {}
    for row in progress.get(series, []):
        if row.get(key) is not None and row["session"] in _numbering(progress):
            sums.setdefault(row["session"], []).append(float(row[key]))
    return [{"session": s, key: sum(v) / len(v)} for s, v in sums.items()]


EMBODIMENT_STYLE = {"ownership": ("#0072B2", "o"), "agency": ("#D55E00", "s"),
                    "location": ("#009E73", "^"), "appearance": ("#CC79A7", "D")}


def figure_embodiment(progress: dict[str, Any],
                      fig: Figure | SubFigure | None = None) -> Any:
    """Embodiment after mirror blocks (docs/embodiment.md): the questionnaire's subscale
    means (-3..+3) and their mean per session; the drift task's pointing error before and
    after the block (cm) and the drift toward the virtual limb (before - after)."""
    num = _numbering(progress)
    fig = _new(fig, tall=True)
    ax1, ax2 = fig.subplots(2, 1)
    _style(ax1, "Embodiment questionnaire (-3 disagree .. +3 agree)", "subscale mean")
    _style(ax2, "Proprioceptive drift: felt phantom vs drawn limb", "cm")
    shown: list[float] = []
    for key, (color, marker) in EMBODIMENT_STYLE.items():
        shown += _line(ax1, num, _session_means(progress, "embodiment", key), key,
                       color=color, marker=marker, linewidth=1.0, label=key)
    shown += _line(ax1, num, _session_means(progress, "embodiment", "embodiment"),
                   "embodiment", color="#000000", marker="o", linewidth=2.0, label="embodiment")
    ax1.axhline(0.0, color="#999999", linewidth=0.8)
    ax1.set_ylim(-3.2, 3.2)
    drift: list[float] = []
    for key, color, marker, label in (("pre_cm", "#CC79A7", "o", "error before the block"),
                                      ("post_cm", "#0072B2", "v", "error after the block"),
                                      ("drift_cm", "#000000", "D", "drift toward the limb")):
        drift += _line(ax2, num, _session_means(progress, "drift", key), key, color=color,
                       marker=marker, linewidth=1.8 if key == "drift_cm" else 1.0, label=label)
    ax2.axhline(0.0, color="#999999", linewidth=0.8)
    _finish(ax1, len(num), bool(shown), legend_loc="upper left")
    _finish(ax2, len(num), bool(drift))
    return fig


def figure_touch(progress: dict[str, Any],
                 fig: Figure | SubFigure | None = None) -> Any:
    """Touch the phantom: brush strokes per session, synchronous and delayed (the control
    condition) stacked."""
    num = _numbering(progress)
    fig, ax = _axes("Touch the phantom: brush strokes", "strokes", fig)
    rows = [r for r in progress.get("touch", []) if r["session"] in num]
    x = [num[r["session"]] for r in rows]
    sync = [r["synchronous"] for r in rows]
    ax.bar(x, sync, color="#0072B2", label="synchronous")
    ax.bar(x, [r["delayed"] for r in rows], bottom=sync, color="#E69F00", label="delayed")
    ax.set_axisbelow(True)
    _finish(ax, len(num), bool(rows))
    return fig


#: the charts drawn as two panels (given more height on a report page)
TALL = frozenset({"imagery", "mirror", "laterality_difference", "embodiment"})

#: chart name -> figure function (the names the companion serves under)
PLOTS: dict[str, Callable[..., Any]] = {
    "laterality_accuracy": figure_laterality_accuracy,
    "laterality_rt": figure_laterality_rt,
    "laterality_difference": figure_laterality_difference,
    "laterality_angle": figure_laterality_angle,
    "medial_lateral": figure_medial_lateral,
    "imagery": figure_imagery,
    "mirror": figure_mirror,
    "mirror_watch": figure_mirror_watch,
    "nrs": figure_nrs,
    "ssq": figure_ssq,
    "embodiment": figure_embodiment,
    "touch": figure_touch,
}


def figure_bytes(fig: Figure, fmt: str = "png", dpi: int = 110) -> bytes:
    """Encode a figure as PNG or SVG bytes."""
    if fmt not in FORMATS:
        raise PlotError(f"plots: format {fmt!r} is not one of {', '.join(FORMATS)}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata=None if fmt == "png" else {"Date": None})
    return buf.getvalue()


def render(name: str, progress: dict[str, Any], fmt: str = "png", dpi: int = 110) -> bytes:
    """Chart ``name`` (a key of :data:`PLOTS`) for a progress dict, as PNG or SVG bytes."""
    if name not in PLOTS:
        raise PlotError(f"plots: no chart {name!r}; charts are {', '.join(PLOTS)}")
    return figure_bytes(PLOTS[name](progress), fmt, dpi)
