"""Seeded, per-session-different, reproducible sequences (vrgmi.seeding): every session draws
its own seed, every block its own child seed, a fixed seed replays a session trial by trial,
and the seed is in the events and the records."""
from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from vrgmi.app import Engine
from vrgmi.control import CommandQueue, StatusBoard
from vrgmi.imagery.session_logic import plan_block
from vrgmi.laterality.task import LateralityTask, TaskConfig
from vrgmi.mirror.reach import reach_targets
from vrgmi.program import Program, SceneStep
from vrgmi.records import RecordSink, open_database
from vrgmi.records.programs import session_summaries
from vrgmi.records.schema import Session
from vrgmi.scenes.base import Scene
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.scenes.schema import Param
from vrgmi.seeding import MAX_SEED, block_seed, draw_session_seed
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

DT = 1.0 / 30.0


class Skip(Scene):
    """Stands in for the questionnaires around the blocks (not what these tests measure)."""

    name = "skip"
    phase = "questionnaire"
    params = (Param("moment", "choice", "post", "before or after", choices=("pre", "post")),)

    def update(self, frame, dt):
        self.finished = True


REGISTRY = {"pain_nrs": Skip, "ssq": Skip, "laterality": LateralityScene}
LATERALITY = {"block_length": 6, "blocks": 1, "probe_trials": 0, "iti_ms": 300,
              "iti_jitter_ms": 200, "feedback": False}


def _stimuli(trials):
    return [(r["limb"], r["side"], r["posture"], r["view"], tuple(r["angles"])) for r in trials]


def test_session_seeds_are_fresh_and_block_seeds_derive_from_them():
    seeds = {draw_session_seed() for _ in range(50)}
    assert len(seeds) == 50 and all(1 <= s <= MAX_SEED for s in seeds)
    assert block_seed(12345, 0) == block_seed(12345, 0)
    children = {block_seed(12345, k) for k in range(20)} | {block_seed(12346, 0)}
    assert len(children) == 21 and all(0 <= c < 2 ** 63 for c in children)


def test_each_scene_draws_its_randomness_from_the_block_seed():
    def laterality(seed):
        task = LateralityTask(TaskConfig(block_length=20, blocks=1, adaptive=False,
                                         axes="2", seed=seed))
        task.generator.new_block(20, ("hand",))
        rng = task.generator.rng
        stimuli = [task.generator.next(TaskConfig().ranges(180.0)) for _ in range(20)]
        return [s.describe() for s in stimuli], rng.uniform()

    a, b = block_seed(7, 0), block_seed(7, 1)
    assert laterality(a) == laterality(a)
    assert laterality(a)[0] != laterality(b)[0]
    imagery = {tuple(m.id for m in plan_block("arm", 1, 4, seed=block_seed(s, 1)))
               for s in range(1, 9)}
    assert len(imagery) > 1
    shoulder, torso = np.array([0.2, 0.0, 1.3]), np.array([0, 0, 1.0, 0, 0, 0, 1.0])

    def reach(seed):
        return reach_targets(np.random.default_rng(seed), shoulder, torso, 1, 0.6, 0.7, 5,
                             0.05, 0.8)

    assert np.array_equal(reach(a), reach(a)) and not np.array_equal(reach(a), reach(b))


@pytest.fixture
def sessions(display, tmp_path):
    """Run laterality sessions on the real engine and session runner, answering every
    stimulus (left / right) and every screen (select) as a script would."""
    made = []
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")

    def run(seed=None, session_id=None):
        settings = load_settings(None, [f"session.seed={seed or 0}"])
        engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display)
        program = Program("p01", breathing_between_blocks=False,
                          steps={"laterality": [SceneStep("laterality", 5.0, dict(LATERALITY)),
                                                SceneStep("laterality", 5.0, dict(LATERALITY))]})
        sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
        runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                               registry=REGISTRY, session_id=session_id, sinks=[sink])
        made.append(engine)
        t, next_select = 0.0, 0.0
        while runner.step(t, DT, render=False):
            task = getattr(getattr(runner.scene, "inner", None), "task", None)
            if task is not None and task.phase == "stimulus":
                engine.inputs.push(task.stimulus.side, t + 0.4 * DT, "script")
            elif t >= next_select:
                engine.inputs.push("select", t, "script")
                next_select = t + 0.5
            t += DT
            assert t < 120.0, "the session did not end"
        runner.close()
        sink.close()
        events = runner.events.history
        blocks: list[list[dict]] = []
        for e in events:                      # in order: each block's trials follow its start
            if e.scene == "laterality" and e.kind == "scene_started":
                blocks.append([])
            elif e.scene == "laterality" and e.kind == "trial" and not e.data.get("practice"):
                blocks[-1].append(e.data)
        return runner, events, blocks

    yield run, db
    for engine in made:
        engine.close()
    db.close()


def test_sessions_differ_blocks_differ_and_a_seed_replays_a_session(sessions):
    run, db = sessions
    first, ev1, blocks1 = run(session_id="s1")
    second, _, blocks2 = run(session_id="s2")
    assert first.seed != second.seed
    assert [len(b) for b in blocks1] == [6, 6]
    assert _stimuli(blocks1[0]) != _stimuli(blocks2[0])             # two sessions differ
    assert _stimuli(blocks1[0]) != _stimuli(blocks1[1])             # two blocks differ
    started = [e.data["seed"] for e in ev1 if e.kind == "scene_started"
               and e.scene == "laterality"]
    # the pre NRS and the SSQ baseline were blocks 0 and 1
    assert started == [block_seed(first.seed, k) for k in (2, 3)]
    replay, ev3, blocks3 = run(seed=first.seed, session_id="s3")
    assert replay.seed == first.seed
    assert [_stimuli(b) for b in blocks3] == [_stimuli(b) for b in blocks1]   # trial by trial
    assert [[r["onset_t"] for r in b] for b in blocks3] == \
        [[r["onset_t"] for r in b] for b in blocks1]                # the jitter too
    # the seed is recorded: the session_started event, the sessions row, the summaries
    assert [e.data["seed"] for e in ev3 if e.kind == "session_started"] == [first.seed]
    with db.session() as s:
        rows = dict(s.execute(select(Session.id, Session.seed)).all())
    assert rows == {"s1": first.seed, "s2": second.seed, "s3": first.seed}
    assert [h["seed"] for h in session_summaries(db, "p01")] == [first.seed, second.seed,
                                                                 first.seed]


def test_the_seed_setting_and_flag_are_checked():
    from vrgmi.cli import _settings, build_parser
    args = build_parser().parse_args(["session", "--headless", "--seed", "42"])
    assert _settings(args).session.seed == 42
    with pytest.raises(Exception, match="session.seed"):
        load_settings(None, ["session.seed=-1"])
