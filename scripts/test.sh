#!/usr/bin/env bash
# Installs what is missing, builds headscope and its tests, and runs the
# whole suite (CLI, training, file formats, widgets, a real window under Xvfb).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j2
bash scripts/npm-test-deps.sh build/npm || echo "test.sh: npm reference encoders missing; tokenizer_reference will fail"
cd build
ctest -j2 --output-on-failure --timeout 900
