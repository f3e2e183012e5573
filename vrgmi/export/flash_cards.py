"""Laterality flash cards as a printable PDF (matplotlib ``PdfPages``, as the progress report).

For home practice between sessions, as clinics do with printed laterality cards: the
picture on the front, the answer on the back. A4 portrait sheets of :data:`ROWS` x
:data:`COLS` cards of :data:`CARD_MM` (playing-card size), each sheet a front page followed
by its back page. The back page is the front's mirror image column-wise (card at row r,
column c on the front -> row r, column ``COLS - 1 - c`` on the back), so printed
double-sided with the long-edge flip every answer lands behind its picture; the grid is
centred, so the thin grey cut lines of both sides coincide.

Front: the picture, "Left or right?" and the card number. Back: the answer (LEFT / RIGHT,
hand / foot) in large letters, then the view, posture, rotation and medial / lateral, and
the card number.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

A4_MM = (210.0, 297.0)
ROWS, COLS = 3, 3
CARDS_PER_SHEET = ROWS * COLS
CARD_MM = (63.0, 88.0)
#: the picture on the front: a square this wide (mm), its top this far below the card's top
PICTURE_MM, PICTURE_TOP_MM = 55.0, 4.0
CUT_LINE_HEX = "#b8b8b8"
TEXT_HEX = "#222222"
MM_PER_IN = 25.4
#: how each view reads on the back
VIEW_WORDS = {"back": "back of the hand", "palm": "palm", "top": "top of the foot",
              "sole": "sole"}


def sheet_count(cards: int) -> int:
    """Sheets (front + back pages) for ``cards`` cards."""
    return math.ceil(cards / CARDS_PER_SHEET)


def card_origin_mm(slot: int, back: bool) -> tuple[float, float]:
    """Lower-left corner (mm from the page's lower left) of the card in ``slot`` (0 .. 8,
    row-major from the top left as seen on the front) on the front or back page."""
    row, col = divmod(slot, COLS)
    if back:
        col = COLS - 1 - col
    width, height = CARD_MM
    left = (A4_MM[0] - COLS * width) / 2.0
    top = A4_MM[1] - (A4_MM[1] - ROWS * height) / 2.0
    return left + col * width, top - (row + 1) * height


def answer_lines(entry: dict) -> tuple[str, list[str]]:
    """The back's answer ("LEFT hand") and its detail lines, from an ``index.json`` entry."""
    answer = f"{entry['side'].upper()} {entry['limb']}"
    rotation = entry["rotation_deg"]
    turned = "upright" if rotation == 0 else f"turned {rotation:g}\N{DEGREE SIGN}"
    details = [VIEW_WORDS[entry["view"]], f"posture: {entry['posture'].replace('_', ' ')}",
               turned if entry["medial_lateral"] == "neutral"
               else f"{turned}, {entry['medial_lateral']}"]
    return answer, details


def _page() -> Figure:
    fig = Figure(figsize=(A4_MM[0] / MM_PER_IN, A4_MM[1] / MM_PER_IN))
    FigureCanvasAgg(fig)
    return fig


def _frac(fig: Figure, x_mm: float, y_mm: float) -> tuple[float, float]:
    return x_mm / A4_MM[0], y_mm / A4_MM[1]


def _cut_lines(fig: Figure, cards: int, back: bool) -> None:
    w, h = CARD_MM[0] / A4_MM[0], CARD_MM[1] / A4_MM[1]
    for slot in range(cards):
        x, y = _frac(fig, *card_origin_mm(slot, back))
        fig.add_artist(Rectangle((x, y), w, h, transform=fig.transFigure, fill=False,
                                 edgecolor=CUT_LINE_HEX, linewidth=0.5))


def _front(entries: Sequence[dict], pictures: Sequence[np.ndarray], first: int) -> Figure:
    fig = _page()
    _cut_lines(fig, len(entries), back=False)
    for slot, picture in enumerate(pictures):
        x0, y0 = card_origin_mm(slot, back=False)
        left = x0 + (CARD_MM[0] - PICTURE_MM) / 2.0
        bottom = y0 + CARD_MM[1] - PICTURE_TOP_MM - PICTURE_MM
        ax = fig.add_axes((*_frac(fig, left, bottom), PICTURE_MM / A4_MM[0],
                           PICTURE_MM / A4_MM[1]))
        ax.imshow(picture, interpolation="lanczos")
        ax.set_axis_off()
        cx = x0 + CARD_MM[0] / 2.0
        fig.text(*_frac(fig, cx, bottom - 9.0), "Left or right?", ha="center", va="center",
                 fontsize=13, color=TEXT_HEX)
        fig.text(*_frac(fig, cx, y0 + 5.0), f"card {first + slot + 1}", ha="center",
                 va="center", fontsize=8, color="#666666")
    return fig


def _back(entries: Sequence[dict], first: int) -> Figure:
    fig = _page()
    _cut_lines(fig, len(entries), back=True)
    for slot, entry in enumerate(entries):
        x0, y0 = card_origin_mm(slot, back=True)
        cx = x0 + CARD_MM[0] / 2.0
        answer, details = answer_lines(entry)
        fig.text(*_frac(fig, cx, y0 + 60.0), answer, ha="center", va="center",
                 fontsize=20, fontweight="bold", color=TEXT_HEX)
        for i, line in enumerate(details):
            fig.text(*_frac(fig, cx, y0 + 44.0 - 6.0 * i), line, ha="center", va="center",
                     fontsize=9.5, color=TEXT_HEX)
        fig.text(*_frac(fig, cx, y0 + 5.0), f"card {first + slot + 1}", ha="center",
                 va="center", fontsize=8, color="#666666")
    return fig


def write_flash_cards(entries: Sequence[dict], load_picture: Callable[[str], np.ndarray],
                      out: Path, progress: Callable[[str], None] | None = None) -> int:
    """Write the cards of ``entries`` (``index.json`` entries, in card order; their pictures
    read by ``load_picture(entry["file"])``) to the PDF ``out``; return the page count."""
    say = progress or (lambda _m: None)
    sheets = sheet_count(len(entries))
    meta = {"Title": "Laterality flash cards: left or right?", "Creator": "vrgmi",
            "Author": None}
    with PdfPages(out, metadata=meta) as pdf:
        for sheet in range(sheets):
            first = sheet * CARDS_PER_SHEET
            chunk = entries[first:first + CARDS_PER_SHEET]
            say(f"stimuli: flash cards, sheet {sheet + 1} of {sheets}")
            pdf.savefig(_front(chunk, [load_picture(e["file"]) for e in chunk], first))
            pdf.savefig(_back(chunk, first))
    return 2 * sheets
