"""One patient-id rule everywhere: settings, programs, records and the companion agree."""
from __future__ import annotations

import pytest

from vrgmi.companion.commands import CommandRejected, check_command
from vrgmi.errors import VrgmiError
from vrgmi.ids import is_patient_id
from vrgmi.records.schema import check_patient_id
from vrgmi.settings import load_settings

GOOD = ["P-001", "a", "x" * 64, "ab_CD-09"]
BAD = ["", "P-nl\n", "P\n", "Zoë", "P 1", "x" * 65, "../etc", "P-1\r", "١٢٣", None, 7]


@pytest.mark.parametrize("pid", GOOD)
def test_every_layer_accepts_a_pseudonym(pid: str) -> None:
    assert is_patient_id(pid)
    assert check_patient_id(pid) == pid
    assert load_settings(overrides={"patient.id": pid}).patient.id == pid


@pytest.mark.parametrize("pid", BAD)
def test_every_layer_refuses_the_same_ids_in_one_line(pid: object) -> None:
    assert not is_patient_id(pid)
    with pytest.raises(VrgmiError) as records:
        check_patient_id(pid)
    if isinstance(pid, str):
        with pytest.raises(VrgmiError) as settings:
            load_settings(overrides={"patient.id": pid})
        assert "\n" not in str(settings.value)
    assert "\n" not in str(records.value)


def test_the_companion_start_command_refuses_a_trailing_newline() -> None:
    status = {"scenes": [], "scene": ""}
    with pytest.raises(CommandRejected) as err:
        check_command({"command": "start", "args": {"patient": "P-nl\n"}}, status, {}, "therapist")
    assert "\n" not in str(err.value)
