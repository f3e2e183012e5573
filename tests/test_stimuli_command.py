"""`vrgmi stimuli`: laterality pictures rendered offscreen by the laterality scene's own
stage, their index.json, the flash-card PDF (answers behind their pictures when printed
double-sided), one-line argument errors, atomic output, and how far a palm differs from
the back of a hand (a sole from the top of a foot) in the pictures."""
from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vrgmi.cli import main
from vrgmi.export.flash_cards import A4_MM, CARD_MM, card_origin_mm
from vrgmi.laterality.stimuli import POSTURE_SETS, SIDES, VIEWS, Stimulus
from vrgmi.laterality.stimulus_sets import canonical_set, index_entry, sample_set
from vrgmi.render.stimulus_render import StimulusRenderer
from vrgmi.settings import load_settings
from vrgmi.stimulus_pictures import INDEX, write_stimulus_set

SIZE = 48


def _png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _write(display, out: Path, stimuli, **kw) -> dict:
    return write_stimulus_set(display.base, load_settings(None, []), stimuli, out,
                              kw.pop("size", SIZE), kw.pop("pdf", False), {"set": "test"}, **kw)


def test_index_entries_match_the_files_and_the_pictures(display, tmp_path):
    stimuli = sample_set(("hand", "foot"), 4, seed=11)
    index = _write(display, tmp_path / "set", stimuli)
    out = tmp_path / "set"
    entries = index["stimuli"]
    assert sorted(p.name for p in out.iterdir()) == sorted([INDEX] + [e["file"]
                                                                      for e in entries])
    assert json.loads((out / INDEX).read_text()) == index
    assert entries == [index_entry(e["file"], s) for e, s in zip(entries, stimuli)]
    for entry in entries:
        assert set(entry) >= {"file", "limb", "side", "view", "posture", "angles",
                              "rotation_deg", "medial_lateral"}
    # each file is the picture its entry describes: rendered again from the entry alone
    renderer = StimulusRenderer(display.base, load_settings(None, []), ("hand", "foot"), SIZE)
    try:
        for entry in entries:
            again = renderer.render(Stimulus(entry["limb"], entry["side"], entry["posture"],
                                             entry["view"], tuple(entry["angles"])))
            assert np.array_equal(_png(out / entry["file"]), again), entry["file"]
    finally:
        renderer.close()
    # and it shows a limb: skin (red above blue) on the slate card
    for entry in entries:
        img = _png(out / entry["file"]).astype(int)
        assert img.shape == (SIZE, SIZE, 3)
        assert ((img[..., 0] - img[..., 2]) > 30).mean() > 0.03, entry["file"]


def test_the_same_seed_gives_the_same_pictures_and_another_seed_another_sample(display,
                                                                               tmp_path):
    first = _write(display, tmp_path / "a", sample_set(("hand",), 4, seed=7))
    again = _write(display, tmp_path / "b", sample_set(("hand",), 4, seed=7))
    other = _write(display, tmp_path / "c", sample_set(("hand",), 4, seed=8))
    assert first["stimuli"] == again["stimuli"]
    for entry in first["stimuli"]:
        assert np.array_equal(_png(tmp_path / "a" / entry["file"]),
                              _png(tmp_path / "b" / entry["file"]))
    described = [{k: v for k, v in e.items() if k != "file"} for e in first["stimuli"]]
    assert described != [{k: v for k, v in e.items() if k != "file"}
                         for e in other["stimuli"]]
    # the game's block rules hold for the sample: half left, half right
    assert sorted(e["side"] for e in first["stimuli"]) == ["left", "left", "right", "right"]


def test_canonical_is_every_limb_side_view_and_posture_upright():
    stimuli = canonical_set(("hand", "foot"))
    combos = {(s.limb, s.side, s.view, s.posture) for s in stimuli}
    expected = {(limb, side, view, posture) for limb in ("hand", "foot") for side in SIDES
                for view in VIEWS[limb] for posture in POSTURE_SETS["all"][limb]}
    assert combos == expected and len(stimuli) == len(expected) == 52
    assert all(s.angles == (0.0, 0.0, 0.0) and s.rotation_deg == 0.0 for s in stimuli)


def _words(pdf: Path) -> list[list[tuple[str, float, float, float]]]:
    """Per page: (word, left x, right x, y centre) in points, y from the top
    (pdftotext -bbox)."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        pages.append([(w, float(x0), float(x1), (float(y0) + float(y1)) / 2)
                      for x0, y0, x1, y1, w in re.findall(
                          r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                          r'([^<]*)</word>', page)])
    return pages


def _card_labels(words) -> dict[int, tuple[float, float]]:
    """Card number -> the centre of its "card N" label."""
    return {int(b[0]): ((a[1] + b[2]) / 2, b[3]) for a, b in zip(words, words[1:])
            if a[0] == "card" and b[0].isdigit()}


def test_the_command_writes_the_canonical_feet_and_duplex_flash_cards(tmp_path):
    out = tmp_path / "feet"
    run = subprocess.run([sys.executable, "-m", "vrgmi.cli", "stimuli", "--out", str(out),
                          "--limb", "foot", "--canonical", "--size", "32", "--pdf",
                          "--skin-tone", "V"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "picture 20 of 20" in run.stderr          # progress is shown while rendering
    index = json.loads((out / INDEX).read_text())
    assert index["skin_tone"] == "V" and index["set"] == "canonical"
    combos = {(e["limb"], e["side"], e["view"], e["posture"]) for e in index["stimuli"]}
    assert combos == set(itertools.product(("foot",), SIDES, VIEWS["foot"],
                                           POSTURE_SETS["all"]["foot"]))
    assert all(e["angles"] == [0.0, 0.0, 0.0] for e in index["stimuli"])
    assert [p.name for p in tmp_path.iterdir()] == ["feet"]       # no temporary folder left
    # 20 cards, 9 to a sheet: 3 sheets, each a front and a back page
    pages = _words(out / "cards.pdf")
    assert len(pages) == 6
    pt_per_mm = 72 / 25.4
    for sheet in range(3):
        front, back = pages[2 * sheet], pages[2 * sheet + 1]
        on_front, on_back = _card_labels(front), _card_labels(back)
        cards = range(9 * sheet + 1, min(9 * sheet + 9, 20) + 1)
        assert set(on_front) == set(on_back) == set(cards)
        for number in cards:
            (fx, fy), (bx, by) = on_front[number], on_back[number]
            # mirrored across the page's vertical centre line, same height: printed
            # double-sided (long-edge flip) the back lands behind the front
            assert bx == pytest.approx(A4_MM[0] * pt_per_mm - fx, abs=2.0)
            assert by == pytest.approx(fy, abs=2.0)
            slot = number - 1 - 9 * sheet
            for x, back_side in ((fx, False), (bx, True)):
                x0, _ = card_origin_mm(slot, back=back_side)
                assert x0 * pt_per_mm < x < (x0 + CARD_MM[0]) * pt_per_mm
            # the answer above the label on the back is this card's side and limb
            entry = index["stimuli"][number - 1]
            left = card_origin_mm(slot, back=True)[0] * pt_per_mm
            right = left + CARD_MM[0] * pt_per_mm
            column = [w for w, x0, x1, y in back
                      if left < x0 and x1 < right and by - CARD_MM[1] * pt_per_mm < y < by]
            answer = [w for w in column if w in ("LEFT", "RIGHT")]
            assert answer == [entry["side"].upper()], (number, column)
            assert entry["limb"] in column
        # the fronts carry no answer
        assert not {"LEFT", "RIGHT"} & {w[0] for w in front}


@pytest.mark.parametrize("argv, message", [
    (["--count", "5"], "--count needs --seed"),
    ([], "give --canonical or --count N --seed S"),
    (["--canonical", "--seed", "3"], "--seed goes with --count"),
    (["--count", "0", "--seed", "1"], "--count must be"),
    (["--count", "4", "--seed", "1", "--size", "8"], "--size must be"),
    (["--canonical", "--skin-tone", "purple"], "skin tone 'purple'"),
])
def test_bad_arguments_give_one_line_errors(tmp_path, capsys, argv, message):
    assert main(["stimuli", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv", [["--canonical", "--count", "3"], ["--limb", "arm"],
                                  ["--count", "many"]])
def test_argument_parse_errors_are_one_line_too(tmp_path, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        main(["stimuli", "--out", str(tmp_path / "x"), "--canonical", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("vrgmi: stimuli: ") and err.count("\n") == 1, err


def test_an_out_folder_with_other_files_is_refused(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["stimuli", "--out", str(tmp_path), "--count", "2", "--seed", "1"]) == 2
    assert "other files" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_failure_leaves_no_partial_set_and_keeps_the_earlier_one(display, tmp_path):
    out = tmp_path / "set"
    earlier = _write(display, out, sample_set(("hand",), 2, seed=1))

    def stop_after_the_second_picture(message: str) -> None:
        if message.startswith("stimuli: picture 2"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _write(display, out, sample_set(("hand",), 4, seed=2),
               progress=stop_after_the_second_picture)
    assert json.loads((out / INDEX).read_text()) == earlier
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [INDEX] + [e["file"] for e in earlier["stimuli"]])
    assert [p.name for p in tmp_path.iterdir()] == ["set"]
    with pytest.raises(KeyboardInterrupt):
        _write(display, tmp_path / "new", sample_set(("hand",), 4, seed=2),
               progress=stop_after_the_second_picture)
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


# --- palmar vs dorsal: can a patient tell a palm from the back of a hand? ------------------

#: issue 12's figure to reach: palm vs back (sole vs top) mean absolute difference inside
#: the common silhouette, per channel, for skin tones I, III and VI
PALMAR_DORSAL_TARGET = 12.0
#: measured with the MakeHuman limbs and their maps at 128 px: tone I 17.0 / 14.9 / 18.9,
#: III 15.6 / 17.9 / 28.9, VI 45.3 / 47.1 / 46.7 for right palm vs left back, right back vs
#: left palm, right top vs left sole (the procedural limbs before them reached 2.4 to 7.8)
PAIRS = {"palm/back": (Stimulus("hand", "right", "open", "palm"),
                       Stimulus("hand", "left", "open", "back")),
         "back/palm": (Stimulus("hand", "right", "open", "back"),
                       Stimulus("hand", "left", "open", "palm")),
         "top/sole": (Stimulus("foot", "right", "neutral", "top"),
                      Stimulus("foot", "left", "neutral", "sole"))}


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        inner = mask.copy()
        inner[1:] &= mask[:-1]
        inner[:-1] &= mask[1:]
        inner[:, 1:] &= mask[:, :-1]
        inner[:, :-1] &= mask[:, 1:]
        mask = inner
    return mask


def palmar_dorsal_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference (0..255 per channel) of two pictures inside their common
    silhouette (limb pixels in both, 2 px in from the edge). The pair is a right limb and a
    left one seen from the other side: the left model is the mirrored right one, so the two
    outlines fall on each other as rendered."""
    card = a[0, 0].astype(int)
    limb_a = np.abs(a.astype(int) - card).sum(axis=2) > 30
    limb_b = np.abs(b.astype(int) - card).sum(axis=2) > 30
    common = _erode(limb_a & limb_b, 2)
    assert common.mean() > 0.05
    return float(np.abs(a.astype(float) - b.astype(float))[common].mean())


@pytest.mark.parametrize("tone", ["I", "III", "VI"])
def test_palm_and_back_differ_inside_the_common_silhouette(display, tone):
    settings = load_settings(None, [f"patient.skin_tone={tone}"])
    renderer = StimulusRenderer(display.base, settings, ("hand", "foot"), 128)
    try:
        figures = {name: palmar_dorsal_difference(renderer.render(a), renderer.render(b))
                   for name, (a, b) in PAIRS.items()}
    finally:
        renderer.close()
    print(f"skin tone {tone}: " + ", ".join(f"{name} {value:.1f}/255"
                                            for name, value in figures.items())
          + f" (target {PALMAR_DORSAL_TARGET:g})")
    for name, value in figures.items():
        assert value >= PALMAR_DORSAL_TARGET, f"{tone} {name}: {value:.2f}/255"
