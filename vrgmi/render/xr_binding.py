"""The OpenXR graphics binding of Panda3D's current OpenGL context, and the few GL calls the
XR display path makes itself.

Panda3D keeps its context current on the main thread after ``render_frame()`` in its default
single-threaded mode; :func:`opengl_binding` reads it back: EGL (``p3headlessgl``, the
headless path) -> ``XrGraphicsBindingEGLMNDX`` with the config found by its EGL_CONFIG_ID;
GLX (``pandagl`` on Linux) -> ``XrGraphicsBindingOpenGLXlibKHR``; WGL (Windows) ->
``XrGraphicsBindingOpenGLWin32KHR``. GL functions are looked up through the same API's
get-proc-address, so no GL wrapper library has to guess the platform.
"""
from __future__ import annotations

import ctypes
import sys

from vrgmi.tracking.openxr import XrUnavailableError

_EGL_CONFIG_ID, _EGL_NONE = 0x3028, 0x3038
_GLX_FBCONFIG_ID = 0x8013
GL_TEXTURE_2D = 0x0DE1
_IMAGE = [ctypes.c_uint, ctypes.c_uint, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int]
#: glCopyImageSubData(src name, target, level, x, y, z, dst name, target, level, x, y, z, w, h, d)
_COPY_IMAGE = ctypes.CFUNCTYPE(None, *_IMAGE, *_IMAGE, ctypes.c_int, ctypes.c_int, ctypes.c_int)


def _egl() -> ctypes.CDLL:
    egl = ctypes.CDLL("libEGL.so.1")
    for name in ("eglGetCurrentDisplay", "eglGetCurrentContext", "eglGetProcAddress"):
        getattr(egl, name).restype = ctypes.c_void_p
    egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    egl.eglQueryContext.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int)]
    egl.eglChooseConfig.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                    ctypes.POINTER(ctypes.c_void_p), ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int)]
    return egl


def _glx() -> ctypes.CDLL:
    glx = ctypes.CDLL("libGL.so.1")
    for name in ("glXGetCurrentDisplay", "glXGetCurrentContext", "glXGetProcAddressARB"):
        getattr(glx, name).restype = ctypes.c_void_p
    glx.glXGetCurrentDrawable.restype = ctypes.c_ulong
    glx.glXGetProcAddressARB.argtypes = [ctypes.c_char_p]
    glx.glXQueryContext.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int)]
    glx.glXChooseFBConfig.restype = ctypes.POINTER(ctypes.c_void_p)
    glx.glXChooseFBConfig.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                      ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
    glx.glXGetVisualFromFBConfig.restype = ctypes.c_void_p
    glx.glXGetVisualFromFBConfig.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return glx


def _egl_binding(xr):
    egl = _egl()
    dpy, ctx = egl.eglGetCurrentDisplay(), egl.eglGetCurrentContext()
    if not dpy or not ctx:
        raise XrUnavailableError("no EGL context is current for the headset binding")
    cid = ctypes.c_int(0)
    egl.eglQueryContext(dpy, ctx, _EGL_CONFIG_ID, ctypes.byref(cid))
    attribs = (ctypes.c_int * 3)(_EGL_CONFIG_ID, cid.value, _EGL_NONE)
    config, n = ctypes.c_void_p(), ctypes.c_int(0)
    if not egl.eglChooseConfig(dpy, attribs, ctypes.byref(config), 1, ctypes.byref(n)) or not n:
        raise XrUnavailableError("the EGL config of Panda3D's context could not be found")
    fields = dict(xr.GraphicsBindingEGLMNDX._fields_)
    get_proc = ctypes.cast(ctypes.c_void_p(ctypes.cast(egl.eglGetProcAddress, ctypes.c_void_p)
                                           .value), fields["get_proc_address"])
    return xr.GraphicsBindingEGLMNDX(
        get_proc_address=get_proc, display=ctypes.cast(dpy, fields["display"]),
        config=ctypes.cast(config, fields["config"]), context=ctypes.cast(ctx, fields["context"]))


def _glx_binding(xr):
    glx = _glx()
    dpy, ctx = glx.glXGetCurrentDisplay(), glx.glXGetCurrentContext()
    if not dpy or not ctx:
        raise XrUnavailableError("no GLX context is current for the headset binding")
    fid = ctypes.c_int(0)
    glx.glXQueryContext(dpy, ctx, _GLX_FBCONFIG_ID, ctypes.byref(fid))
    attribs = (ctypes.c_int * 3)(_GLX_FBCONFIG_ID, fid.value, 0)
    n = ctypes.c_int(0)
    screen = ctypes.CDLL("libX11.so.6").XDefaultScreen(ctypes.c_void_p(dpy))
    configs = glx.glXChooseFBConfig(dpy, screen, attribs, ctypes.byref(n))
    if not configs or not n.value:
        raise XrUnavailableError("the GLX framebuffer config of Panda3D's window was not found")
    visual = glx.glXGetVisualFromFBConfig(dpy, configs[0])
    visualid = ctypes.cast(visual, ctypes.POINTER(ctypes.c_void_p))[1] if visual else 0
    fields = dict(xr.GraphicsBindingOpenGLXlibKHR._fields_)
    return xr.GraphicsBindingOpenGLXlibKHR(
        x_display=ctypes.cast(dpy, fields["x_display"]), visualid=int(visualid or 0),
        glx_fbconfig=ctypes.cast(configs[0], fields["glx_fbconfig"]),
        glx_drawable=glx.glXGetCurrentDrawable(), glx_context=ctypes.cast(ctx,
                                                                          fields["glx_context"]))


def _wgl_binding(xr):
    wgl = ctypes.WinDLL("opengl32")
    wgl.wglGetCurrentDC.restype = wgl.wglGetCurrentContext.restype = ctypes.c_void_p
    dc, rc = wgl.wglGetCurrentDC(), wgl.wglGetCurrentContext()
    if not dc or not rc:
        raise XrUnavailableError("no WGL context is current for the headset binding")
    fields = dict(xr.GraphicsBindingOpenGLWin32KHR._fields_)
    return xr.GraphicsBindingOpenGLWin32KHR(h_dc=ctypes.cast(dc, fields["h_dc"]),
                                            h_glrc=ctypes.cast(rc, fields["h_glrc"]))


def opengl_binding(kind: str):
    """The binding structure for the current context: ``kind`` "egl" or "opengl"."""
    import xr
    if kind == "egl":
        return _egl_binding(xr)
    return _wgl_binding(xr) if sys.platform == "win32" else _glx_binding(xr)


#: binding structure -> the short name reports and log lines use
BINDING_NAMES = {"GraphicsBindingEGLMNDX": "EGL", "GraphicsBindingOpenGLXlibKHR": "GLX",
                 "GraphicsBindingOpenGLWin32KHR": "WGL"}


def binding_name(binding: object) -> str:
    """"EGL", "GLX" or "WGL": which binding structure :func:`opengl_binding` made."""
    return BINDING_NAMES[type(binding).__name__]


class GL:
    """The GL entry points the XR display path calls, from the current context's API."""

    def __init__(self, kind: str) -> None:
        if kind == "egl":
            lookup = _egl().eglGetProcAddress
        elif sys.platform == "win32":
            wgl = ctypes.WinDLL("opengl32")
            wgl.wglGetProcAddress.restype = ctypes.c_void_p
            lookup = wgl.wglGetProcAddress
        else:
            lookup = _glx().glXGetProcAddressARB
        address = lookup(b"glCopyImageSubData")
        if not address:
            raise XrUnavailableError("OpenGL 4.3 (glCopyImageSubData) is needed for the headset")
        self._copy = _COPY_IMAGE(address)

    def copy_texture(self, src: int, dst: int, width: int, height: int) -> None:
        """Copy a 2D texture's level 0 into another of a compatible format."""
        self._copy(src, GL_TEXTURE_2D, 0, 0, 0, 0, dst, GL_TEXTURE_2D, 0, 0, 0, 0,
                   width, height, 1)
