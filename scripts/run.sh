#!/usr/bin/env bash
# Installs what is missing, builds headscope in Release, and opens the
# explorer on the default run (training it in the background if absent).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2 --target headscope  # the explorer and the CLI (the tests are test.sh's)
exec ./build/headscope "$@"
