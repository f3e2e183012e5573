"""The patient's limb shape (issue 12 item 3): MakeHuman's build, muscle, sex and age targets
as the models' glTF morph targets, hand and foot size, one shape for every limb shown, the
therapist's command and the patient's record."""
from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys

import numpy as np
import pygltflib
import pytest
from panda3d.core import OrthographicLens
from PIL import Image
from records_data import _events
from test_clinic_day import DT, clinic, run_session_through  # noqa: F401 (fixture)
from test_companion_api import records, request, server, token  # noqa: F401 (fixtures)

from vrgmi.app import Engine, EngineError
from vrgmi.body.limb_shape import MORPH_NAMES, morph_weights
from vrgmi.companion.commands import CommandRejected, check_command
from vrgmi.control import Command, CommandQueue, EngineStatus
from vrgmi.events import Event
from vrgmi.render.display import grab_rgba
from vrgmi.render.morphs import _geom_node, _float_view
from vrgmi.render.resources import model_file
from vrgmi.render.rig import LimbRig
from vrgmi.render.shaders import SKIN, load_shader
from vrgmi.render.skin import SkinLook
from vrgmi.records import queries
from vrgmi.records.schema import Patient
from vrgmi.records.store import RecordSink
from vrgmi.settings import LimbShapeSettings, load_settings
from vrgmi.tracking.scripted import ScriptedSource

FILM, SIZE = 1.2, 256          # 1.2 m across 256 px: 4.7 mm a pixel
PX = FILM / SIZE


@pytest.mark.parametrize("kind", ["arm", "leg"])
def test_models_carry_the_named_morph_targets(kind):
    gltf = pygltflib.GLTF2.load(str(model_file(f"limbs/{kind}_right.glb")))
    mesh = gltf.meshes[0]
    assert mesh.extras["targetNames"] == list(MORPH_NAMES) and len(MORPH_NAMES) == 7
    prim = mesh.primitives[0]
    assert len(prim.targets) == 7 and mesh.weights == [0.0] * 7
    for target in prim.targets:
        acc = gltf.accessors[target["POSITION"]]
        assert acc.count == gltf.accessors[prim.attributes.POSITION].count
        reach = max(max(abs(v) for v in acc.min), max(abs(v) for v in acc.max))
        assert 0.005 < reach < 0.05                      # millimetres to a few centimetres


@pytest.fixture(scope="module")
def shader(display):
    return load_shader(*SKIN, gsg=display.win.get_gsg())


@pytest.fixture
def side_view(display, scene):
    """Orthographic camera on +X looking at the limb's lateral side (-X): the whole hand
    (palm medial) or foot in profile; z up in the image."""
    lens = OrthographicLens()
    lens.set_film_size(FILM, FILM)
    lens.set_near_far(0.1, 10.0)
    display.base.cam.node().set_lens(lens)
    display.base.cam.set_pos(3, 0, -0.5)
    display.base.cam.look_at(0, 0, -0.5)
    return scene


def _mask(display, rig, **shape) -> np.ndarray:
    rig.set_shape(LimbShapeSettings(**shape))
    return grab_rgba(display.base)[..., 3] > 0


def _row(z: float) -> int:
    return int(SIZE / 2 - (z + 0.5) / PX)


def test_build_and_hand_size_change_the_silhouette(display, side_view, shader):
    rig = LimbRig(side_view, "arm", 1, 1.75, shader, SkinLook())
    mid_forearm = _row(-(0.186 + 0.073) * 1.75)
    below_wrist = _row(-(0.186 + 0.146) * 1.75) + 2
    slim, heavy = _mask(display, rig, build=-1.0), _mask(display, rig, build=1.0)
    width = [m[mid_forearm - 3:mid_forearm + 4].sum(axis=1).mean() for m in (slim, heavy)]
    assert width[1] - width[0] >= 1.5, width              # 13.3 -> 15.3 px (62 -> 72 mm)
    small, large = _mask(display, rig, hand_size=0.9), _mask(display, rig, hand_size=1.15)
    area = [m[below_wrist:].sum() for m in (small, large)]
    assert area[1] / area[0] > 1.3, area                  # (1.15 / 0.9)^2 = 1.63
    young, old = _mask(display, rig), _mask(display, rig, age_years=90.0)
    female, male = _mask(display, rig, sex=-1.0), _mask(display, rig, sex=1.0)
    assert (young ^ old).sum() > 100 and (female ^ male).sum() > 100
    rig.remove()


def test_foot_size_changes_the_foot(display, side_view, shader):
    rig = LimbRig(side_view, "leg", 1, 1.75, shader, SkinLook())
    below_ankle = _row(-(0.245 + 0.246) * 1.75) + 2
    small, large = _mask(display, rig, foot_size=0.9), _mask(display, rig, foot_size=1.15)
    area = [m[below_ankle:].sum() for m in (small, large)]
    assert area[1] / area[0] > 1.3, area
    rig.remove()


def _vertices(rig: LimbRig) -> np.ndarray:
    """The rest-pose vertex rows (positions, normals...) the rig's mesh holds now."""
    vdata = _geom_node(rig.model).get_geom(0).get_vertex_data()
    return _float_view(vdata.get_array(0), vdata.get_num_rows()).copy()


def test_intact_phantom_and_resting_limbs_share_one_shape(display, scene):
    settings = load_settings(None, {"patient.amputation_side": "left",
                                    "limb_shape.build": 0.5})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    try:
        intact, phantom = engine.intact_rig, engine.phantom_rig
        assert intact.shape == phantom.shape == settings.limb_shape
        changes = engine.set_limb_shape(build=1.0, age_years=70.0, hand_size=1.1)
        assert changes == {"build": (0.5, 1.0), "age_years": (25.0, 70.0),
                           "hand_size": (1.0, 1.1)}
        rigs = (intact, phantom, *engine.seated.rigs)
        weights = [morph_weights(r.shape) for r in rigs[:2]]
        assert np.array_equal(*weights) and weights[0][1] == 1.0
        assert np.array_equal(_vertices(intact), _vertices(phantom))
        baked = _vertices(intact)
        assert not np.allclose(baked[:, :3], intact._morphs.rest[:, :3], atol=1e-4)
        # the phantom is the intact limb's mirror image: same mesh, x scale negated
        si, sp = intact.root.get_scale(), phantom.root.get_scale()
        assert sp[0] == -si[0] and (sp[1], sp[2]) == (si[1], si[2])
        assert intact._size_control.get_scale() == phantom._size_control.get_scale()
        assert math.isclose(intact._size_control.get_scale()[0], 1.1, rel_tol=1e-6)
        assert all(r.shape == engine.settings.limb_shape for r in rigs)
        before = engine.settings.limb_shape
        for bad in ({"build": 2.0}, {"sex": "male"}, {"colour": 1.0}, {}):
            with pytest.raises((EngineError, ValueError)) as err:
                engine.set_limb_shape(**bad)
            assert "\n" not in str(err.value)
        assert engine.settings.limb_shape == before
    finally:
        engine.close()


def test_limb_shape_command_is_checked(display):
    ok = check_command({"command": "limb_shape", "args": {"build": -0.5, "age_years": 60}},
                       {}, {}, "companion:t")
    assert (ok.name, ok.args) == ("limb_shape", {"build": -0.5, "age_years": 60.0})
    for args, why in (({}, "give build"), ({"build": "heavy"}, "must be a number"),
                      ({"build": True}, "must be a number"), ({"muscle": float("nan")},
                                                              "must be a number"),
                      ({"hand_size": 3.0}, "out of range 0.85..1.2"),
                      ({"age_years": 5}, "out of range 18..90"),
                      ({"colour": 1}, "unexpected argument")):
        with pytest.raises(CommandRejected) as err:
            check_command({"command": "limb_shape", "args": args}, {}, {}, "companion:t")
        assert why in str(err.value) and "\n" not in str(err.value), (args, err.value)


def test_limb_shape_round_trip_command_engine_records(display, scene, tmp_path, records,
                                                     server, token):
    """Companion HTTP command -> session -> every limb -> param_changed -> the patient's
    row -> the companion's patient page and the next session's limbs."""
    from test_session import REGISTRY
    from vrgmi.program import Program, SceneStep
    from vrgmi.session import SessionRunner

    engine = Engine(load_settings(None, {}), ScriptedSource("reach", intact_side="right"),
                    display)
    _seq, before = server.board.status()
    runner = SessionRunner(engine, Program("p01", phase="mirror",
                                           steps={"mirror": [SceneStep("tiny", 0.1)]}),
                           tmp_path, CommandQueue(), server.board, registry=REGISTRY)
    try:
        server.commands.drain()
        bad = request(server, "POST", "/api/command",
                      {"command": "limb_shape", "args": {"muscle": "strong"}}, token)
        assert bad[0] == 400 and "muscle must be a number" in json.loads(bad[2])["error"]
        sent = request(server, "POST", "/api/command",
                       {"command": "limb_shape", "args": {"muscle": 0.8, "foot_size": 1.1}}, token)
        assert sent[0] == 202, sent
        command, = server.commands.drain()
        runner.commands.put(command)
        runner.start(0.0)
        runner.step(0.0, 1 / 90, render=False)
        assert engine.intact_rig.shape.muscle == engine.phantom_rig.shape.muscle == 0.8
        changed = [e.data for e in runner.events.of_kind("param_changed")]
        assert {"name": "limb_shape.muscle", "old": 0.0, "new": 0.8,
                "by": command.by} in changed and command.by.startswith("companion:")
        # the session's status carries the shape the limbs have now (the sliders show it)
        status = json.loads(request(server, "GET", "/api/status", token=token)[2])["status"]
        assert status["limb_shape"] == dataclasses.asdict(engine.settings.limb_shape)
        assert status["limb_shape"]["muscle"] == 0.8 and status["limb_shape"]["foot_size"] == 1.1
    finally:
        runner.close()
        engine.close()
        server.board.publish(EngineStatus(**before))
    sink = RecordSink(records, spill_path=tmp_path / "spill.jsonl")   # the companion's
    start = _events("P07", 1)[0]
    sink.put(start)
    for data in changed:
        sink.put(Event("param_changed", 1.0, data, "", start.session, start.wall + 1))
    sink.close()
    assert sink.error is None
    record = queries.get_patient(records, "P07")
    assert record["limb_shape"] == {"muscle": 0.8, "foot_size": 1.1}
    page = request(server, "GET", "/api/patients/P07", token=token)
    assert json.loads(page[2])["patient"]["limb_shape"] == record["limb_shape"]
    again = Engine(load_settings(None, {}), ScriptedSource("reach", intact_side="right"),
                   display)
    try:
        again.set_limb_shape(**record["limb_shape"])      # what clinic.py does at start
        assert again.phantom_rig.shape == LimbShapeSettings(muscle=0.8, foot_size=1.1)
    finally:
        again.close()


def test_a_patients_start_gives_the_limbs_their_stored_shape(clinic):
    """Start for a patient in the records: their stored shape over the average one (never
    the previous patient's), in the engine and in the status the companion shows."""
    make, services, engine, db, _out = clinic
    with db.session() as s:
        s.get(Patient, "P2").limb_shape = {"muscle": 0.8, "foot_size": 1.1}
    engine.set_limb_shape(build=1.0, hand_size=1.1)      # the patient before (P1)
    day = make()
    t, _alive = run_session_through(day, 0.0)
    idle = services.board.status()[1]
    assert idle["state"] == "idle" and idle["limb_shape"]["build"] == 1.0
    services.commands.put(Command("start", {"patient": "P2"}))
    for _ in range(2):
        assert day.step(t, DT)
        t += DT
    stored = LimbShapeSettings(muscle=0.8, foot_size=1.1)
    assert engine.settings.limb_shape == engine.phantom_rig.shape == stored
    status = services.board.status()[1]
    assert status["patient"] == "P2" and status["limb_shape"] == dataclasses.asdict(stored)


def test_companion_page_sends_the_limb_shape_and_shows_it(server):
    """The therapist's page in a real browser (Debian's Chromium): the Limb shape sliders
    show the engine's shape (the patient's, from the status) and follow a change of patient;
    they become one checked ``limb_shape`` command; the patient page lists the record's
    shape."""
    from playwright.sync_api import expect, sync_playwright
    from test_companion_browser import CHROMIUM, CHROMIUM_ARGS

    server.commands.drain()
    _seq, before = server.board.status()
    stored = LimbShapeSettings(build=0.4, muscle=-0.3, sex=0.2, age_years=60.0,
                               hand_size=1.1, foot_size=0.95)
    server.board.publish(EngineStatus(**{**before, "limb_shape": dataclasses.asdict(stored)}))
    pairing, _link = server.pairing()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(server.url + "/")
        page.fill("#token", pairing.lower())
        page.click("button[type=submit]")
        expect(page.locator("#link")).to_have_text("connected")
        for key, value in (("build", "0.4"), ("muscle", "-0.3"), ("sex", "0.2"),
                           ("age_years", "60"), ("hand_size", "1.1"), ("foot_size", "0.95")):
            expect(page.locator(f"#shape-{key}")).to_have_value(value)
        # the next patient's session starts with the average shape: the sliders follow
        server.board.publish(EngineStatus(**{**before, "patient": "P02", "limb_shape":
                                             dataclasses.asdict(LimbShapeSettings())}))
        for key, value in (("build", "0"), ("age_years", "25"), ("hand_size", "1")):
            expect(page.locator(f"#shape-{key}")).to_have_value(value)
        server.board.publish(EngineStatus(**before))
        page.fill("#shape-build", "0.6")
        page.fill("#shape-hand_size", "1.1")
        page.click("#set-shape")
        page.wait_for_timeout(500)
        page.goto(server.url + "/#/patients/P01")
        expect(page.locator("#p-facts")).to_contain_text("Limb shape")
        expect(page.locator("#p-facts")).to_contain_text("average")
        browser.close()
    sent = [c for c in server.commands.drain() if c.name == "limb_shape"]
    assert [c.args for c in sent] == [{"build": 0.6, "muscle": 0.0, "sex": 0.0,
                                       "age_years": 25.0, "hand_size": 1.1, "foot_size": 1.0}]


def _limb_mask(picture: np.ndarray) -> np.ndarray:
    """The pixels of a stimulus picture that are not the slate card (its corner's colour)."""
    card = picture[0, 0].astype(int)
    return np.abs(picture.astype(int) - card).sum(axis=2) > 30


def test_a_patients_laterality_pictures_show_their_own_hand(display):
    """The laterality game's stage in a session is built with the patient's limb shape and
    skin tone (it is their own hand); the picture of a heavy, large hand (framed to the same
    span as every stimulus) covers more of the card than the average one, each side the
    same."""
    from vrgmi.laterality.stimuli import Stimulus
    from vrgmi.render.stimulus_render import StimulusRenderer
    from vrgmi.scenes.laterality import LateralityScene

    scene = LateralityScene(block_length=4, blocks=1, probe_trials=0)
    engine = Engine(load_settings(None, ["ui.instructions=false"]),
                    ScriptedSource("rest", intact_side="right"), display)
    try:
        engine.set_limb_shape(build=1.0, hand_size=1.2)    # the patient's, as at start
        engine.set_skin_tone("V")
        engine.set_scene(scene)
        rigs = scene._view.rigs
        assert rigs and all(r.rig.shape == engine.settings.limb_shape for r in rigs.values())
        assert rigs[("hand", "left")].rig._size_control.get_scale()[0] == pytest.approx(1.2)
        patient = engine.settings
    finally:
        engine.close()
    average = load_settings(None, ["patient.skin_tone=V"])
    masks = {}
    for name, settings in (("average", average), ("patient", patient)):
        renderer = StimulusRenderer(display.base, settings, ("hand",), 96)
        try:
            for side in ("left", "right"):
                picture = renderer.render(Stimulus("hand", side, "open", "back"))
                masks[name, side] = _limb_mask(picture)
        finally:
            renderer.close()
    areas = {key: int(mask.sum()) for key, mask in masks.items()}
    changed = {side: int((masks["patient", side] ^ masks["average", side]).sum())
               for side in ("left", "right")}
    print("stimulus area (px):", areas, "changed:", changed)
    for side in ("left", "right"):      # 96 px: 1505 -> 1547 px, 101 px changed
        assert areas["patient", side] > 1.02 * areas["average", side], areas
        assert changed[side] > 0.04 * areas["average", side], changed
    assert areas["patient", "left"] == pytest.approx(areas["patient", "right"], rel=0.02)


def test_stimuli_command_takes_the_shape(display, tmp_path, capsys):
    """`vrgmi stimuli` draws the average limbs unless --shape KEY=VALUE says otherwise;
    the index records the shape; a bad key or value is a one-line error."""
    from vrgmi.cli import main
    from vrgmi.laterality.stimulus_sets import sample_set
    from vrgmi.stimulus_pictures import INDEX, write_stimulus_set

    heavy = tmp_path / "heavy"
    run = subprocess.run([sys.executable, "-m", "vrgmi.cli", "stimuli", "--out", str(heavy),
                          "--count", "2", "--seed", "3", "--size", "64", "--shape", "build=1",
                          "--shape", "hand_size=1.2"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    index = json.loads((heavy / INDEX).read_text())
    assert index["limb_shape"] == dataclasses.asdict(LimbShapeSettings(build=1.0,
                                                                       hand_size=1.2))
    average = write_stimulus_set(display.base, load_settings(None, []),   # the command's
                                 sample_set(("hand",), 2, 3), tmp_path / "average", 64,
                                 False, {"set": "sample"})                # default shape
    assert average["limb_shape"] == dataclasses.asdict(LimbShapeSettings())
    assert [e["file"] for e in average["stimuli"]] == [e["file"] for e in index["stimuli"]]
    for entry in index["stimuli"]:
        pictures = [np.asarray(Image.open(folder / entry["file"]).convert("RGB"))
                    for folder in (tmp_path / "average", heavy)]
        assert _limb_mask(pictures[1]).sum() > _limb_mask(pictures[0]).sum()
    for shape, message in (("colour=1", "--shape takes KEY=VALUE"),
                           ("build", "--shape takes KEY=VALUE"),
                           ("build=3", "limb_shape.build = '3' is out of range -1..1"),
                           ("hand_size=big", "must be a number")):
        assert main(["stimuli", "--out", str(tmp_path / "x"), "--canonical",
                     "--shape", shape]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (tmp_path / "x").exists()
