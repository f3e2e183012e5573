#!/usr/bin/env bash
# Installs the Debian packages vrgmi needs that pip cannot provide. Idempotent; quiet when
# all are present.
#   Mesa EGL/GL: offscreen rendering;  Xvfb: the desktop-window and GLX tests;
#   Node.js + npm: the glTF validator;  Chromium: the companion's browser tests (Playwright);
#   PostgreSQL: the records tests' real server;  poppler: report pages as images;
#   gcc + OpenXR/EGL/GL/zlib headers: the scripted OpenXR test runtime (tests/xr_runtime/).
#   espeak-ng: spoken instructions (vrgmi/speech.py; docs/accessibility.md).
#   cmake, ninja, Vulkan (lavapipe), X11/udev/bsd/cJSON/Eigen headers: building Monado, the
#   OpenXR runtime of the headset tests (tools/build-monado.sh, tests/test_monado.py).
set -euo pipefail
packages=(libegl1 libegl-mesa0 libgl1-mesa-dri libgl1 libglx-mesa0 xvfb nodejs npm
          chromium postgresql poppler-utils
          gcc libopenxr-dev libegl-dev libgl-dev zlib1g-dev espeak-ng
          cmake ninja-build pkg-config libeigen3-dev libvulkan-dev glslang-tools
          mesa-vulkan-drivers libx11-dev libx11-xcb-dev libxrandr-dev libxcb-randr0-dev
          libxxf86vm-dev libudev-dev libbsd-dev libcjson-dev)
missing=()
for p in "${packages[@]}"; do
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "system-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
