"""The scene API is typed: mypy finds nothing in the modules a scene author and a frame
loop see (settings in pyproject.toml's ``[tool.mypy]``), and their public signatures say
what they take and give, ``Any`` only inside JSON payload dicts (``dict[str, Any]``)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the scene API: the scene base class, the frame source and loop, the session runner, the
#: clinic day, and the example plug-in that shows the contract
API_MODULES = ("vrgmi/scenes/base.py", "vrgmi/frame_source.py", "vrgmi/frame_loop.py",
               "vrgmi/session.py", "vrgmi/clinic.py")
EXAMPLE = "examples/vrgmi-scene-example/vrgmi_scene_example"


def _api_files() -> list[Path]:
    return [ROOT / m for m in API_MODULES] + sorted((ROOT / EXAMPLE).glob("*.py"))


def test_mypy_finds_no_errors_in_the_scene_api() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", *API_MODULES, EXAMPLE],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def _is_json_dict(node: ast.expr) -> bool:
    """``dict[str, Any]`` or ``Mapping[str, Any]``: a JSON payload."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id in ("dict", "Mapping") and isinstance(node.slice, ast.Tuple)
            and len(node.slice.elts) == 2):
        return False
    key, value = node.slice.elts
    return (isinstance(key, ast.Name) and key.id == "str"
            and isinstance(value, ast.Name) and value.id == "Any")


def _has_any(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):   # "quoted" hint
        node = ast.parse(node.value, mode="eval").body
    if _is_json_dict(node):
        return False
    if (isinstance(node, ast.Name) and node.id == "Any") or (
            isinstance(node, ast.Attribute) and node.attr == "Any"):
        return True
    return any(_has_any(child) for child in ast.iter_child_nodes(node)
               if isinstance(child, ast.expr))


def public_any(path: Path, root: Path = ROOT) -> list[str]:
    """``file:line name`` of each public function or method (``__init__`` included) of a
    public class or the module whose parameters or return mention ``Any`` outside a JSON
    payload dict."""
    found: list[str] = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                    not node.name.startswith("_") or node.name == "__init__"):
                a = node.args
                hints = [arg.annotation for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
                hints += [a.vararg.annotation if a.vararg else None,
                          a.kwarg.annotation if a.kwarg else None, node.returns]
                if any(_has_any(h) for h in hints):
                    found.append(f"{path.relative_to(root)}:{node.lineno} {prefix}{node.name}")

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return found


def test_public_signatures_of_the_scene_api_have_no_any() -> None:
    assert [f for path in _api_files() for f in public_any(path)] == []


def test_the_any_check_sees_any_outside_a_json_dict(tmp_path: Path) -> None:
    """The check itself: ``Any`` as a parameter, in a union or a list is found; a JSON
    payload dict, a private method and a private class are not."""
    src = tmp_path / "mod.py"
    src.write_text(
        "from typing import Any\n"
        "def a(x: Any) -> None: ...\n"
        "def b(x: int) -> 'list[Any] | None': ...\n"
        "def c(d: dict[str, Any], **kw: Any) -> dict[str, Any]: ...\n"
        "def ok(d: dict[str, Any]) -> dict[str, Any]: ...\n"
        "class P:\n"
        "    def __init__(self, engine: Any) -> None: ...\n"
        "    def _private(self, x: Any) -> Any: ...\n"
        "class _Q:\n"
        "    def f(self, x: Any) -> None: ...\n", encoding="utf-8")
    assert [f.split()[1] for f in public_any(src, tmp_path)] == ["a", "b", "c", "P.__init__"]
