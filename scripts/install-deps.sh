#!/usr/bin/env bash
# Installs the Debian packages headscope builds, tests and runs with.
# Idempotent: installs only what is missing. Needs root (or sudo).
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread
  libimgui-dev libglfw3-dev libgl-dev libgl1-mesa-dri
  libeigen3-dev catch2 nlohmann-json3-dev libzip-dev libcli11-dev
  libboost-math1.81-dev libstb-dev fonts-dejavu-core
  xvfb xauth python3-numpy python3-torch
  chromium
  libpcre2-dev libicu-dev libsentencepiece-dev sentencepiece
)
# The tokenizer reference test runs npm encoders (scripts/npm-test-deps.sh). A node that came with
# its own npm (e.g. NodeSource's) conflicts with Debian's npm package, so only add it when missing.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
