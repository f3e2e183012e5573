"""Copies the repository's shaders/ and models/ into the wheel as vrgmi/_data/ (metadata is
in pyproject.toml; see docs/rendering.md)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


class BuildPyWithData(build_py):
    """build_py that also ships the shaders and limb models inside the package."""

    def run(self):
        super().run()
        for folder in ("shaders", "models"):
            dest = Path(self.build_lib) / "vrgmi" / "_data" / folder
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(ROOT / folder, dest)


setup(cmdclass={"build_py": BuildPyWithData})
