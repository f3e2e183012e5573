"""The delayed-mirror study condition on Monado, the open-source OpenXR runtime (null
compositor, remote driver, core validation on and clean), in a child process
(tests/monado_study_child.py): in every focused frame the phantom is the mirror image of the
intact limb of the newest frame whose display time is at least the delay older, whatever
pace Monado's compositor keeps; the status and the events name only the condition's code."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.monado import REPO, monado_env, monado_manifest, worker_port
from tests.monado_study_child import DELAY_S
from tests.xr_runtime.harness import validation_problems
from vrgmi.body.mirror import mirror_points
from vrgmi.study.allocation import StudyPlan, condition_codes

FRAMES = 40


@pytest.fixture(scope="session")
def monado():
    return monado_manifest()


def test_monado_delayed_mirror_lags_by_the_delay_in_display_time(monado, tmp_path):
    port = worker_port()
    validation = tmp_path / "validation.txt"
    env = monado_env(tmp_path / "config", port, validation)
    res = subprocess.run([sys.executable, str(REPO / "tests" / "monado_study_child.py"),
                          str(tmp_path), str(port), str(FRAMES)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["runtime"].startswith("Monado") and result["fallback"] is None
    messages = validation.read_text().splitlines() if validation.exists() else []
    assert messages, "the core validation layer did not run"
    bad = validation_problems(messages)
    assert not bad, "\n".join(bad)

    f = np.load(tmp_path / "frames.npz")
    t, checked, lagged = f["t"], 0, 0
    assert np.all(np.diff(t) > 0)
    for i in range(len(t)):
        old = np.nonzero(t <= t[i] - DELAY_S + 1e-4)[0]
        if not len(old):
            continue
        j = old[-1]                        # the newest frame at least the delay older
        # the torso holds still (the head does not move): the phantom now is the mirror
        # image of the intact limb then
        np.testing.assert_allclose(f["torso"][i], f["torso"][j], atol=1e-9)
        mirrored = mirror_points(f["intact"][j], f["torso"][j], np.empty_like(f["intact"][j]))
        np.testing.assert_allclose(f["phantom"][i], mirrored, atol=1e-6)
        now = mirror_points(f["intact"][i], f["torso"][i], np.empty_like(f["intact"][i]))
        lagged += not np.allclose(f["phantom"][i], now, atol=1e-3)
        checked += 1
    assert checked >= 15 and lagged >= checked // 2           # the delay is visible

    code = condition_codes(StudyPlan(conditions=["delayed"], seed=5), "p01")["delayed"]
    (allocation,) = result["allocations"]
    assert (allocation["condition"], allocation["code"]) == ("delayed", code)
    (event,) = [e["data"] for e in result["events"] if e["kind"] == "study_condition"]
    assert event == {"code": code, "index": 0}
    statuses = [s for s in result["statuses"] if s != "null"]
    assert len(statuses) >= 20
    assert all(f'"study_code":"{code}"' in s and "delay" not in s for s in statuses)
