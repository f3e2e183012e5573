"""Render layer (Panda3D): display setup, shaders, the skin material, the clinic room.

Modules: ``resources`` (find shaders/ and models/), ``display`` (window, offscreen or
software display; framebuffer grabs), ``shaders`` (load and compile GLSL, scene-wide
shader inputs), ``skin`` (the limb's skin shading and stump blend), ``environment``
(the clinic room). Import them directly; this package imports nothing eagerly.
"""
