"""Load the GLSL shaders from files, compile them with a one-line error, and set the
scene-wide inputs every vrgmi shader reads (lighting, sRGB output)."""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from panda3d.core import (Filename, GraphicsStateGuardian, LineStream, NodePath, Notify, Shader,
                          Vec3)

from vrgmi.errors import VrgmiError
from vrgmi.render.resources import shader_file

log = logging.getLogger("vrgmi.render")

#: the vertex and fragment files of the shipped programs
SKIN = ("skin.vert", "skin.frag")
ROOM = ("room.vert", "room.frag")

_STAGE_LINE = re.compile(r"compiling GLSL (vertex|fragment) shader")


class ShaderError(VrgmiError, ValueError):
    """A shader file is missing, unreadable or does not compile; the message is one line."""


def _resolve(name: str | Path) -> Path:
    path = Path(name)
    if path.is_absolute() or len(path.parts) > 1:
        if not path.is_file():
            raise ShaderError(f"shader file {path} does not exist")
        return path
    return shader_file(str(name))


def shaders_supported(gsg: GraphicsStateGuardian) -> bool:
    """True when ``gsg`` runs GLSL 3.30 (every OpenGL 3.3+ driver; not p3tinydisplay)."""
    version = (gsg.get_driver_shader_version_major(), gsg.get_driver_shader_version_minor())
    return bool(gsg.get_supports_glsl()) and version >= (3, 30)


def load_shader(vertex: str | Path, fragment: str | Path,
                gsg: GraphicsStateGuardian | None = None) -> Shader:
    """Load a GLSL program from files: names like ``"skin.vert"`` are looked up in the shipped
    shaders/ folder, paths are used as given. With ``gsg`` it is compiled now, so a broken
    shader raises ShaderError naming its file and the compiler's first message."""
    files = {"vertex": _resolve(vertex), "fragment": _resolve(fragment)}
    with _notify_lines() as messages:
        shader = Shader.load(Shader.SL_GLSL,
                             vertex=Filename.from_os_specific(str(files["vertex"])),
                             fragment=Filename.from_os_specific(str(files["fragment"])))
    if shader is None:
        detail = next((m.split(": ", 1)[-1] for m in messages if "(error)" in m),
                      "Panda3D could not read them")
        raise ShaderError(f"shader files {files['vertex']} and {files['fragment']} could not "
                          f"be loaded: {detail}")
    if gsg is not None:
        compile_shader(shader, gsg, files)
    return shader


def compile_shader(shader: Shader, gsg: GraphicsStateGuardian,
                   files: dict[str, Path]) -> None:
    """Compile and link ``shader`` on ``gsg`` now (its GL context must be current, as it is
    after the window opened); raise ShaderError with the failing file and the first compiler
    message. ``files`` maps "vertex"/"fragment" to the source files, for the message."""
    if not shaders_supported(gsg):
        raise ShaderError(f"this display has no GLSL 3.30 ({gsg.get_driver_renderer()}); "
                          f"{files['vertex'].name} cannot run")
    with _notify_lines() as messages:
        context = shader.prepare_now(gsg.get_prepared_objects(), gsg)
    if context is not None and not shader.get_error_flag():
        for line in messages:
            log.debug("%s", line)
        return
    raise ShaderError(_compile_error(messages, files))


@contextmanager
def _notify_lines() -> Iterator[list[str]]:
    """Collect what Panda3D's notify prints inside the block (its lines, in order)."""
    stream, lines = LineStream(), []
    notify = Notify.ptr()
    previous = notify.get_ostream_ptr()
    notify.set_ostream_ptr(stream, False)
    try:
        yield lines
    finally:
        notify.set_ostream_ptr(previous, False)
        while stream.is_text_available():
            lines.append(stream.get_line())


def _compile_error(messages: list[str], files: dict[str, Path]) -> str:
    culprit, what = f"{files['vertex']} + {files['fragment']}", "failed to link"
    for line in messages:
        stage = _STAGE_LINE.search(line)
        if stage:
            culprit, what = str(files[stage.group(1)]), "failed to compile"
            break
    details = [m.strip() for m in messages if m.strip() and not m.startswith(":")]
    detail = next((d for d in details if "error" in d.lower()), details[0] if details else
                  "the driver gave no log")
    for path in files.values():  # "/abs/skin.frag:3(37): error" -> "line 3(37): error"
        detail = detail.replace(f"{Filename.from_os_specific(str(path))}:", "line ")
    return f"shader {culprit} {what}: {detail}"


@dataclass(frozen=True)
class Lighting:
    """Soft room lighting shared by every shader: one key light plus hemisphere ambient.
    Colours are linear RGB; ``key_direction`` points from the scene TOWARD the light."""

    key_direction: tuple[float, float, float] = (-0.45, -0.30, 0.84)  # left window, above
    key_color: tuple[float, float, float] = (0.62, 0.60, 0.56)
    sky: tuple[float, float, float] = (0.56, 0.57, 0.60)
    ground: tuple[float, float, float] = (0.34, 0.31, 0.27)              # warm floor bounce


def set_lighting(root: NodePath, lighting: Lighting = Lighting()) -> None:
    """Set the lighting inputs on ``root``; every shaded node below it inherits them."""
    root.set_shader_input("key_light_dir", Vec3(*lighting.key_direction).normalized())
    root.set_shader_input("key_light_color", Vec3(*lighting.key_color))
    root.set_shader_input("ambient_sky", Vec3(*lighting.sky))
    root.set_shader_input("ambient_ground", Vec3(*lighting.ground))


def set_srgb_encoding(root: NodePath, in_shader: bool) -> None:
    """Where linear colour becomes sRGB: in the shader (``in_shader``) when the framebuffer
    cannot, else in the sRGB framebuffer."""
    root.set_shader_input("encode_srgb", 1.0 if in_shader else 0.0)
