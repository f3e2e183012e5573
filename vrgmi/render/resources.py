"""Find the shaders/ and models/ folders, from a checkout and from an installed wheel.

A wheel carries both folders as package data in ``vrgmi/_data/`` (copied there at build
time, see docs/rendering.md); a checkout or an editable install has them at the
repository root, next to the ``vrgmi`` package.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from vrgmi.errors import VrgmiError


class ResourceError(VrgmiError, ValueError):
    """A shader or model file that vrgmi ships is missing."""


def data_root() -> Path:
    """The folder holding ``shaders/`` and ``models/``: ``vrgmi/_data`` in a wheel, else the
    repository root of the checkout."""
    package = Path(str(files("vrgmi")))
    packaged, checkout = package / "_data", package.parent
    if (packaged / "shaders").is_dir():
        return packaged
    if (checkout / "pyproject.toml").is_file() and (checkout / "shaders").is_dir():
        return checkout
    raise ResourceError(f"vrgmi's shaders/ folder is missing: looked in {packaged} and "
                        f"{checkout}; reinstall vrgmi")


def shaders_dir() -> Path:
    """The folder with the GLSL shaders."""
    return data_root() / "shaders"


def models_dir() -> Path:
    """The folder with the glTF models (``limbs/arm_right.glb`` ...)."""
    return data_root() / "models"


def shader_file(name: str) -> Path:
    """Path of the shipped shader ``name`` (e.g. ``"skin.vert"``); raises ResourceError."""
    path = shaders_dir() / name
    if not path.is_file():
        raise ResourceError(f"shader file {name!r} is not in {path.parent}")
    return path


def model_file(relative: str) -> Path:
    """Path of the shipped model ``relative`` to models/ (e.g. ``"limbs/arm_right.glb"``);
    raises ResourceError."""
    path = models_dir() / relative
    if not path.is_file():
        raise ResourceError(f"model file {relative!r} is not in {models_dir()} "
                            f"(generate the limb models first, see docs/)")
    return path
