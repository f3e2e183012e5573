#!/usr/bin/env bash
# Builds Monado's OpenXR runtime library (only the `openxr_monado` target: in-process, no
# service) from the source tarball in ../shared/monado/, into a cache outside the checkout:
#   ${XDG_CACHE_HOME:-~/.cache}/vrgmi/monado-<hash of the tarball and the options below>/
# A build whose hash matches is reused; several processes at once build it only once (a file
# lock). Progress goes to stderr; the last line on stdout is the runtime manifest's absolute
# path (XR_RUNTIME_JSON). Needs the Debian packages in tools/system-deps.sh.
#   MONADO_TARBALL: another source tarball;  VRGMI_CACHE: another cache folder.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shopt -s nullglob
found=("$repo"/../shared/monado/monado-*.tar.xz)
tarball=${MONADO_TARBALL:-${found[0]:-}}
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
  echo "build-monado: no Monado source tarball (expected ../shared/monado/monado-*.tar.xz)" >&2
  exit 1
fi
# the smallest runtime that runs headless: null compositor, EGL and GLX bindings, the
# simulated and remote drivers; every optional dependency off so cmake finds nothing else
options=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DBUILD_DOC=OFF
  -DXRT_FEATURE_SERVICE=OFF -DXRT_MODULE_IPC=OFF -DXRT_FEATURE_OPENXR=ON
  -DXRT_MODULE_COMPOSITOR_MAIN=ON -DXRT_MODULE_COMPOSITOR_NULL=ON -DXRT_HAVE_XCB=ON
  -DXRT_HAVE_EGL=ON -DXRT_HAVE_OPENGL=ON -DXRT_HAVE_OPENGL_GLX=ON -DXRT_HAVE_VULKAN=ON
  -DXRT_MODULE_AUX_VIVE=ON -DXRT_BUILD_DRIVER_SIMULATED=ON -DXRT_BUILD_DRIVER_REMOTE=ON
  -DXRT_OPENXR_INSTALL_ABSOLUTE_RUNTIME_PATH=ON
  -DXRT_HAVE_WAYLAND=OFF -DXRT_HAVE_WAYLAND_DIRECT=OFF -DXRT_HAVE_SDL2=OFF -DXRT_HAVE_OPENCV=OFF
  -DXRT_HAVE_DBUS=OFF -DXRT_HAVE_SYSTEMD=OFF -DXRT_HAVE_PERCETTO=OFF -DXRT_HAVE_TRACY=OFF
  -DXRT_FEATURE_TRACING=OFF -DXRT_MODULE_MONADO_GUI=OFF -DXRT_MODULE_MONADO_CLI=OFF
  -DXRT_FEATURE_STEAMVR_PLUGIN=OFF -DXRT_BUILD_SAMPLES=OFF -DXRT_HAVE_LIBUSB=OFF
  -DXRT_HAVE_LIBUVC=OFF -DXRT_HAVE_HIDAPI=OFF -DXRT_HAVE_JPEG=OFF -DXRT_HAVE_GST=OFF
  -DXRT_HAVE_REALSENSE=OFF -DXRT_HAVE_OPENVR=OFF -DXRT_HAVE_BLUETOOTH=OFF
  -DXRT_HAVE_ONNXRUNTIME=OFF -DXRT_FEATURE_SLAM=OFF -DXRT_MODULE_MERCURY_HANDTRACKING=OFF
  -DXRT_BUILD_DRIVER_HANDTRACKING=OFF -DXRT_FEATURE_DEBUG_GUI=OFF -DXRT_FEATURE_WINDOW_PEEK=OFF
  -DXRT_FEATURE_RENDERDOC=OFF)
key=$( { sha256sum "$tarball" | cut -d' ' -f1; printf '%s\n' "${options[@]}"; } \
       | sha256sum | cut -c1-16)
cache=${VRGMI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vrgmi}
dir=$cache/monado-$key
manifest=$dir/install/share/openxr/1/openxr_monado.json
if [ ! -f "$dir/.complete" ]; then
  mkdir -p "$cache"
  exec 9>"$cache/monado.lock"
  flock 9                                     # another process may be building it right now
  if [ ! -f "$dir/.complete" ]; then
    start=$(date +%s)
    echo "building Monado's OpenXR runtime into $dir (about a minute)" >&2
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xJf "$tarball" -C "$dir"
    log=$dir/build.log
    if ! { cmake -S "$dir/monado" -B "$dir/build" -DCMAKE_INSTALL_PREFIX="$dir/install" \
             "${options[@]}" && ninja -C "$dir/build" openxr_monado \
           && cmake --install "$dir/build/src/xrt/targets/openxr"; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "build-monado: the build failed (full log: $log)" >&2
      exit 1
    fi
    if [ ! -f "$manifest" ]; then
      echo "build-monado: the build installed no runtime manifest at $manifest" >&2
      exit 1
    fi
    touch "$dir/.complete"
    for old in "$cache"/monado-*; do         # builds of other sources or options
      [ "$old" = "$dir" ] || rm -rf "$old"
    done
    echo "Monado built in $(( $(date +%s) - start )) s" >&2
  fi
fi
echo "$manifest"
