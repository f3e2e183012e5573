"""shaders/ and models/ are found in a checkout and in an installed wheel's vrgmi/_data."""
from __future__ import annotations

from pathlib import Path

import pytest

from vrgmi.render import resources
from vrgmi.render.resources import (ResourceError, data_root, model_file, models_dir,
                                    shader_file, shaders_dir)

CHECKOUT = Path(__file__).resolve().parents[1]


def test_checkout_layout():
    assert data_root() == CHECKOUT
    assert shaders_dir() == CHECKOUT / "shaders"
    assert models_dir() == CHECKOUT / "models"
    assert shader_file("skin.frag") == CHECKOUT / "shaders" / "skin.frag"


def test_wheel_layout_wins(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "vrgmi"
    (package / "_data" / "shaders").mkdir(parents=True)
    (package / "_data" / "models" / "limbs").mkdir(parents=True)
    (package / "_data" / "shaders" / "skin.vert").write_text("#version 330\n")
    (package / "_data" / "models" / "limbs" / "arm_right.glb").write_bytes(b"glTF")
    monkeypatch.setattr(resources, "files", lambda name: package)
    assert data_root() == package / "_data"
    assert shader_file("skin.vert") == package / "_data" / "shaders" / "skin.vert"
    assert model_file("limbs/arm_right.glb").read_bytes() == b"glTF"


def test_missing_data_and_files_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(ResourceError, match="'no_such.frag' is not in") as err:
        shader_file("no_such.frag")
    assert "\n" not in str(err.value)
    with pytest.raises(ResourceError, match="model file 'limbs/no_such.glb'"):
        model_file("limbs/no_such.glb")
    package = tmp_path / "site-packages" / "vrgmi"      # a wheel without its data
    package.mkdir(parents=True)
    (tmp_path / "site-packages" / "shaders").mkdir()    # someone else's shaders/ folder
    monkeypatch.setattr(resources, "files", lambda name: package)
    with pytest.raises(ResourceError, match="shaders/ folder is missing.*reinstall vrgmi"):
        data_root()
