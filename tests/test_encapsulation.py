"""No module of vrgmi (nor the example scene plug-in) writes another object's underscored
members: ``x._name = ...``, ``x._buf[:] = ...``, ``del x._name`` or ``setattr(x, "_name",
...)`` where ``x`` is not ``self`` or ``cls``. What another object keeps private changes
only through its methods."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def _own(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def _written(target: ast.expr) -> list[ast.Attribute]:
    """The attributes a target writes: itself, or what it unpacks into or indexes."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return [a for elt in target.elts for a in _written(elt)]
    if isinstance(target, ast.Starred):
        return _written(target.value)
    while isinstance(target, ast.Subscript):          # x._buf[i] = ... writes x._buf
        target = target.value
    return [target] if isinstance(target, ast.Attribute) else []


def foreign_writes(source: str, name: str = "<src>") -> list[str]:
    """``name:line expression`` for each write to another object's underscored member."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("setattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value) and not _own(node.args[0])):
            found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
        for target in targets:
            for attr in _written(target):
                if _private(attr.attr) and not _own(attr.value):
                    found.append(f"{name}:{attr.lineno} {ast.unparse(attr)}")
    return found


def test_no_module_writes_another_objects_private_members() -> None:
    paths = [*sorted((ROOT / "vrgmi").rglob("*.py")), *sorted((ROOT / "examples").rglob("*.py"))]
    found = [w for path in paths
             for w in foreign_writes(path.read_text(encoding="utf-8"),
                                     str(path.relative_to(ROOT)))]
    assert found == []


def test_the_check_sees_each_kind_of_write() -> None:
    src = ("scene._t = 1\n"
           "runner._block_s += 2\n"
           "a, info._layers = 1, None\n"
           "solver._inp[:] = x\n"
           "del node._cache\n"
           "setattr(obj, '_x', 1)\n"
           "self._own = 1\n"
           "cls._count = 0\n"
           "obj.public = 1\n"
           "obj.__dict__ = {}\n"
           "y = other._read_is_fine\n")
    assert [w.split(" ", 1)[1] for w in foreign_writes(src)] == [
        "scene._t", "runner._block_s", "info._layers", "solver._inp", "node._cache",
        "setattr(obj, '_x', 1)"]
