"""Render layer (Panda3D): display setup, shaders, the skin material, the clinic room.

Modules: ``resources`` (find shaders/ and models/), ``display`` (window, offscreen or
software display; framebuffer grabs, PNGs), ``shaders`` (load and compile GLSL, the
scene-wide lighting and sRGB inputs), ``color`` (linear/sRGB), ``skin`` (skin tones, the
skin look and stump blend on a rigged limb), ``environment`` (the clinic room). Import
them directly; this package imports nothing eagerly. See docs/rendering.md.
"""
