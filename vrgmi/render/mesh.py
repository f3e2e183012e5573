"""Procedural mesh building blocks shared by the body proxy and the scenes' objects: a unit
UV sphere's vertices and triangles, and the static triangle GeomNode over vertex data."""
from __future__ import annotations

import math

import numpy as np
from panda3d.core import Geom, GeomNode, GeomTriangles, GeomVertexData


def uv_sphere(rings: int = 14, segments: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """A unit UV sphere's vertices (n, 3), each pole and seam repeated per segment, and its
    outward triangles (m, 3)."""
    verts = []
    for i in range(rings + 1):
        th = math.pi * i / rings
        for j in range(segments + 1):
            ph = 2.0 * math.pi * j / segments
            verts.append((math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph),
                          math.cos(th)))
    tris = []
    for i in range(rings):
        for j in range(segments):
            a, b = i * (segments + 1) + j, (i + 1) * (segments + 1) + j
            tris += [(a, b, b + 1), (a, b + 1, a + 1)]
    return np.array(verts), np.array(tris)


def triangles_node(name: str, vdata: GeomVertexData, triangles: np.ndarray) -> GeomNode:
    """A GeomNode ``name`` drawing the static ``triangles`` (m, 3 vertex indices) of
    ``vdata``."""
    prim = GeomTriangles(Geom.UH_static)
    for a, b, c in triangles:
        prim.add_vertices(int(a), int(b), int(c))
    geom = Geom(vdata)
    geom.add_primitive(prim)
    node = GeomNode(name)
    node.add_geom(geom)
    return node
