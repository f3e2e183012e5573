"""A limb model's glTF morph targets, baked into its vertices when the shape is set.

A patient's limb shape changes between sessions, never within a frame, so the morphs are
not animated: :meth:`MeshMorphs.take` lifts the morph deltas out of the loaded model once
(and drops its morph columns and slider table, so Panda3D never animates them on the CPU
and the GPU skinning path stays as it was), and :meth:`MeshMorphs.bake` writes
``rest + sum(weight * delta)`` into a rig's own copy of the vertices (normals
re-normalised). Nothing runs per frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from panda3d.core import GeomVertexFormat, InternalName, NodePath


class MorphError(ValueError):
    """A limb model whose vertex layout the morph baking does not know."""


def _geom_node(model: NodePath):
    """The limb's skinned mesh (other nodes a rig may carry, e.g. a sleeve, are not)."""
    found = [p.node() for p in model.find_all_matches("**/+GeomNode")
             if p.node().get_num_geoms() == 1
             and p.node().get_geom(0).get_vertex_data().get_transform_blend_table() is not None]
    if len(found) != 1:
        raise MorphError("a limb model must hold one skinned mesh")
    return found[0]


def _float_view(array, n: int) -> np.ndarray:
    """A writable float32 (n, stride / 4) view of a vertex array's rows."""
    view = np.frombuffer(memoryview(array), dtype=np.float32)
    return view.reshape(n, -1)


def _start(array_format, name: InternalName) -> int:
    column = array_format.get_column(name)
    if column is None or column.get_num_components() != 3 or column.get_component_bytes() != 4:
        raise MorphError(f"no float xyz column {name} in the limb model's vertices")
    return column.get_start() // 4


@dataclass(frozen=True)
class MeshMorphs:
    """The rest positions and normals (N, 6) of a limb model and its morph deltas (M, N, 6),
    in the model's (engine) axes."""
    names: tuple[str, ...]
    rest: np.ndarray
    deltas: np.ndarray

    @classmethod
    def take(cls, model: NodePath, names: tuple[str, ...]) -> MeshMorphs:
        """Read the deltas of ``names`` (at least one) out of the freshly loaded ``model``
        and drop its morph data (columns and slider table)."""
        node = _geom_node(model)
        vdata = node.modify_geom(0).modify_vertex_data()
        fmt = vdata.get_format()
        n = vdata.get_num_rows()
        main = fmt.get_array(0)
        rest = _float_view(vdata.get_array(0), n)
        cols = [_start(main, InternalName.get_vertex()), _start(main, InternalName.get_normal())]
        rest = np.hstack([rest[:, c:c + 3] for c in cols]).astype(np.float64)
        first = InternalName.get_morph(InternalName.get_vertex(), names[0])
        morph_array = next((i for i in range(fmt.get_num_arrays())
                            if fmt.get_array(i).has_column(first)), None)
        if morph_array is None:
            raise MorphError(f"the limb model has no morph target {names[0]}")
        layout = fmt.get_array(morph_array)
        raw = _float_view(vdata.get_array(morph_array), n)
        deltas = np.zeros((len(names), n, 6))
        for k, name in enumerate(names):
            for part, base in enumerate((InternalName.get_vertex(), InternalName.get_normal())):
                c = _start(layout, InternalName.get_morph(base, name))
                deltas[k, :, 3 * part:3 * part + 3] = raw[:, c:c + 3]
        stripped = GeomVertexFormat(fmt)
        stripped.remove_array(morph_array)
        vdata.clear_slider_table()
        node.modify_geom(0).set_vertex_data(
            vdata.convert_to(GeomVertexFormat.register_format(stripped)))
        return cls(names, rest, deltas)

    def bake(self, model: NodePath, weights: np.ndarray) -> None:
        """Write the shape of ``weights`` (one per morph) into ``model``'s own vertices."""
        shaped = self.rest + np.tensordot(np.asarray(weights, dtype=np.float64), self.deltas,
                                          axes=1)
        shaped[:, 3:] /= np.linalg.norm(shaped[:, 3:], axis=1, keepdims=True)
        vdata = _geom_node(model).modify_geom(0).modify_vertex_data()
        main = vdata.get_format().get_array(0)
        rows = _float_view(vdata.modify_array(0), vdata.get_num_rows())
        for part, name in enumerate((InternalName.get_vertex(), InternalName.get_normal())):
            c = _start(main, name)
            rows[:, c:c + 3] = shaped[:, 3 * part:3 * part + 3]
