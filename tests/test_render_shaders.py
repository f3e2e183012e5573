"""The shipped GLSL compiles on Mesa; a broken shader is one line naming its file."""
from __future__ import annotations

import shutil

import pytest

from vrgmi.render.resources import ResourceError, shader_file, shaders_dir
from vrgmi.render.shaders import ROOM, SKIN, ShaderError, load_shader, shaders_supported


@pytest.fixture
def gsg(display):
    return display.win.get_gsg()


@pytest.fixture
def shader_copy(tmp_path):
    """A writable copy of the shipped shaders/ folder."""
    for path in shaders_dir().iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_the_display_runs_glsl_330(display, gsg):
    assert display.shaders and shaders_supported(gsg)


@pytest.mark.parametrize("program", [SKIN, ROOM])
def test_shipped_programs_compile(gsg, program):
    shader = load_shader(*program, gsg=gsg)
    assert not shader.get_error_flag()


def one_line_error(*args, gsg) -> str:
    with pytest.raises(ShaderError) as err:
        load_shader(*args, gsg=gsg)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_broken_fragment_shader_names_the_file_and_the_compiler_message(gsg, shader_copy):
    broken = shader_copy / "skin.frag"
    broken.write_text(broken.read_text().replace("float rim =", "float rim = undefined_thing +"))
    message = one_line_error(shader_copy / "skin.vert", broken, gsg=gsg)
    assert message.startswith(f"shader {broken} failed to compile: line ")
    assert "undefined_thing" in message


def test_broken_vertex_shader_names_the_vertex_file(gsg, shader_copy):
    broken = shader_copy / "room.vert"
    broken.write_text(broken.read_text().replace("gl_Position =", "gl_Position = vec3(1.0) +"))
    message = one_line_error(broken, shader_copy / "room.frag", gsg=gsg)
    assert message.startswith(f"shader {broken} failed to compile")
    assert "error" in message


def test_link_error_names_both_files(gsg, shader_copy):
    vert = shader_copy / "skin.vert"
    vert.write_text(vert.read_text().replace("out float v_limb_distance;",
                                             "out vec2 v_limb_distance;")
                    .replace("v_limb_distance = dot(p3d_Vertex.xyz - limb_root, limb_axis);",
                             "v_limb_distance = vec2(0.0);"))
    message = one_line_error(vert, shader_copy / "skin.frag", gsg=gsg)
    assert f"{vert} + {shader_copy / 'skin.frag'} failed to link" in message
    assert "v_limb_distance" in message


def test_missing_include_and_missing_files(gsg, shader_copy):
    (shader_copy / "lighting.glsl").unlink()
    message = one_line_error(shader_copy / "skin.vert", shader_copy / "skin.frag", gsg=gsg)
    assert "could not be loaded" in message and "lighting.glsl" in message
    with pytest.raises(ShaderError, match="does not exist"):
        load_shader(shader_copy / "nope.vert", shader_copy / "skin.frag")
    with pytest.raises(ResourceError, match="'nope.vert'"):
        load_shader("nope.vert", "skin.frag")


def test_shaders_are_loaded_from_the_shipped_folder():
    assert shader_file("skin.vert").parent == shaders_dir()
    for name in (*SKIN, *ROOM, "lighting.glsl"):
        assert shader_file(name).read_text().strip()
