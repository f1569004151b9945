#!/usr/bin/env bash
# One sanitizer command: builds headscope and its tests with AddressSanitizer
# and UndefinedBehaviorSanitizer into their own folder (build-asan/, next to
# the release build), runs the whole test suite against that build, then the
# corruption drivers (model and tokenizer folders through `heads` and
# `tokenize`; summary.json and the progress summary through `shot`). Any
# sanitizer report fails the run. Not part of .ci/run (several times slower
# than the release suite); run it whenever a file reader changes.
#
#   bash scripts/sanitize.sh [BUILD_DIR]      (default: build-asan)
#
# Environment: JOBS (default 2), CTEST_ARGS (e.g. "-R tokenizers" for a subset),
# SKIP_DRIVERS=1 to run the suite only.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-asan}
JOBS=${JOBS:-2}
bash scripts/install-deps.sh
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# -O1 -g1: what ASan recommends, and the quickest build that still gives line numbers in reports.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEADSCOPE_BUILD_BENCH=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build "$BUILD" -j"$JOBS"
bash scripts/npm-test-deps.sh "$BUILD/npm" || echo "sanitize.sh: npm reference encoders missing; their variants are skipped"

# Mesa, torch and Python leak at exit by design: leak checking would only
# report theirs. Every other report aborts the process, which fails its test.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
# tokenizer_reference is left to the release suite: a sanitizer build must
# open the SentencePiece module without RTLD_DEEPBIND (ASan refuses it), so in
# the headscope binary its protobuf meets torch's and aborts ("compiled against
# version 3.14.0"); the SentencePiece tokenizer itself runs under ASan in
# test_tokenizers, which has no torch.
(cd "$BUILD" && ctest -j"$JOBS" --output-on-failure --timeout 3600 ${CTEST_ARGS:--E tokenizer_reference}) || status=1
if [ "${SKIP_DRIVERS:-0}" != 1 ]; then
  WORK="$BUILD/sanitize_work"
  npm_args=()
  [ -d "$BUILD/npm/node_modules" ] && npm_args=(--npm "$BUILD/npm")
  /usr/bin/python3 tests/analysis/corrupt_inputs.py "$BUILD/headscope" "$WORK/inputs" "${npm_args[@]}" --jobs "$JOBS" \
    --timeout 600 || status=1
  /usr/bin/python3 tests/analysis/corrupt_findings.py "$BUILD/headscope" "$WORK/findings" || status=1  # its own xvfb-run
fi
if [ $status -eq 0 ]; then echo "sanitize.sh: suite and corruption drivers passed under ASan/UBSan"; fi
exit $status
