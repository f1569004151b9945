#!/usr/bin/env bash
# The README's screenshot of the model picker: a temporary Hugging Face cache
# (HF_HOME) holding the demo LM and small random models of every architecture
# (tests/analysis/hf_reference.py, laid out by tests/analysis/hub_cache_tree.py
# exactly as `hf download` does), plus two folders headscope refuses, and the
# explorer drawn under Xvfb with the picker open.
#   bash scripts/shot_model_picker.sh [BUILD_DIR] [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-docs/lm_model_picker.png}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PY=/usr/bin/python3
$PY tests/analysis/hf_reference.py "$WORK/fx" gpt2 llama qwen3 mistral gemma gemma2 phi3_longrope gpt_neox > /dev/null
mkdir -p "$WORK/fx/t5" "$WORK/fx/bin"
echo '{"model_type": "t5", "d_model": 64, "num_layers": 2}' > "$WORK/fx/t5/config.json"
cp "$WORK/fx/gpt2/model.safetensors" "$WORK/fx/t5/"
cp "$WORK/fx/gpt2/config.json" "$WORK/fx/bin/"
head -c 100000 /dev/urandom > "$WORK/fx/bin/pytorch_model.bin"
tree() { $PY tests/analysis/hub_cache_tree.py "$WORK/hf" "$1" "$1" "$2" > /dev/null; }
tree assets/demo_lm headscope/demo-lm
for f in gpt2 llama qwen3 mistral gemma gemma2 phi3_longrope gpt_neox t5 bin; do
  tree "$WORK/fx/$f" "tiny-random/$f"
done
HF_HOME="$WORK/hf" XDG_CACHE_HOME="$WORK/xdg" HOME="$WORK" xvfb-run -a -s "-screen 0 1600x1000x24" \
  "$BUILD/headscope" --lm --open-model-picker --frames 40 --screenshot "$OUT" --width 1400 --height 720
echo "wrote $OUT"
