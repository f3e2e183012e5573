"""Settings validation and the command line: one-line errors, every subcommand has help."""
from __future__ import annotations

import subprocess
import sys

import pytest

from vrgmi.cli import COMMANDS, build_parser, main
from vrgmi.errors import SettingsError
from vrgmi.settings import describe_settings, load_settings


def test_defaults_file_and_overrides_layer(tmp_path):
    cfg = tmp_path / "clinic.toml"
    cfg.write_text('[patient]\nheight_m = 1.62\namputation_level = "transfemoral"\n'
                   '[tracking]\nhold_s = 1.0\n')
    s = load_settings(cfg, ["tracking.hold_s=2", "patient.amputation_side=right"])
    assert s.patient.height_m == 1.62
    assert s.patient.amputation_level == "transfemoral"
    assert s.patient.amputation_side == "right"
    assert s.tracking.hold_s == 2.0          # the override wins over the file
    assert s.tracking.fade_s == 0.5          # untouched default


@pytest.mark.parametrize("override, expected", [
    ("tracking.hold_s=9", "settings: tracking.hold_s = '9' is out of range 0..5"),
    ("patient.weight=80", "unknown key 'patient.weight'"),
    ("camera.fov=90", "unknown key 'camera.fov'"),
    ("patient.amputation_level=knee", "'knee' is not one of partial_hand"),
    ("display.width=wide", "display.width = 'wide' must be a number"),
    ("tracking.one_euro=maybe", "must be true or false"),
    ("patient.id=Jane Doe", "must be 1-64 letters"),
    ("hold_s", "must look like section.key=value"),
])
def test_bad_settings_give_one_line_naming_the_key(override, expected):
    with pytest.raises(SettingsError) as err:
        load_settings(overrides=[override])
    text = str(err.value)
    assert expected in text
    assert "\n" not in text


def test_bad_toml_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[patient\nheight_m = ")
    with pytest.raises(SettingsError, match="is not valid TOML") as err:
        load_settings(bad)
    assert "\n" not in str(err.value)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[patient]\nheigth_m = 1.7\n")
    with pytest.raises(SettingsError, match="unknown key 'patient.heigth_m'"):
        load_settings(unknown)


def test_describe_lists_every_key_with_range():
    text = describe_settings()
    assert "height_m = 1.75 (1.2..2.2)" in text
    assert "[tracking]" in text and "[display]" in text


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_prints_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: vrgmi {command}" in out
    assert len(out.splitlines()) >= 3


def test_required_subcommands_exist():
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)
    assert {"run", "demo", "replay", "record", "bench", "scenes", "export", "doctor"} <= names


def test_cli_error_is_one_line_without_traceback():
    res = subprocess.run([sys.executable, "-m", "vrgmi", "doctor", "--set", "display.width=1"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip() == ("vrgmi: settings: display.width = '1' is out of range "
                                  "320..7680 (window / screenshot width in pixels)")
    assert "Traceback" not in res.stderr


def test_doctor_reports_in_plain_words():
    res = subprocess.run([sys.executable, "-m", "vrgmi", "doctor"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    labels = [line[5:].split()[0] for line in res.stdout.splitlines()]
    assert labels == ["python", "display", "opengl", "openxr", "database", "lsl"]
    # this machine renders offscreen on Mesa (the test suite installs it)
    assert "[ok] opengl" in res.stdout and "OpenGL" in res.stdout
    # liblsl ships with pylsl: found, and off until a lab switches it on
    assert "[ok] lsl        liblsl" in res.stdout and "off until lsl.enabled" in res.stdout


def test_scenes_lists_the_registered_scenes():
    res = subprocess.run([sys.executable, "-m", "vrgmi", "scenes"], capture_output=True,
                         text=True)
    assert res.returncode == 0
    rows = [line.split()[:2] for line in res.stdout.splitlines() if not line.startswith(" ")]
    assert ["free_mirror", "mirror"] in rows and ["laterality", "laterality"] in rows
