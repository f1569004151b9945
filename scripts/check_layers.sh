#!/usr/bin/env bash
# The layer rules of the source tree, checked from the includes themselves
# (the CMake include roots make an upward include fail to build; this says
# which rule a file breaks, and also covers the app's rooms):
#   analysis/, bottom up: io, tokenizers -> model, jobs -> library -> families -> analyzers, lm -> train;
#   a folder includes only folders below it (and itself);
#   widgets/ and analysis/ never include each other; app/ never includes torch;
#   a panel never includes another panel.
# Prints each broken rule and exits 1; prints one line and exits 0 when all hold.
set -euo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [io]="io"
  [tokenizers]="io tokenizers"
  [model]="io model"
  [jobs]="io jobs"
  [library]="io model jobs library"
  [families]="io model jobs library families"
  [analyzers]="io tokenizers model jobs library families analyzers"
  [lm]="io tokenizers model jobs library families lm"
  [train]="io tokenizers model jobs library families analyzers lm train"
)
folders="io tokenizers model jobs library families analyzers lm train"
bad=0
for dir in $folders; do
  while IFS= read -r line; do
    file=${line%%:*}
    inc=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"${line#*:}")
    case " $folders " in *" $inc "*) ;; *) continue ;; esac
    case " ${allowed[$dir]} " in
      *" $inc "*) ;;
      *) echo "layers: $file includes $inc/ (analysis/$dir may include only: ${allowed[$dir]})"; bad=1 ;;
    esac
  done < <(grep -HE '^#include "[a-z_]+/' analysis/"$dir"/*.h analysis/"$dir"/*.cpp 2>/dev/null || true)
done
if grep -rlE '#include [<"](imgui|backends/|line_plot|heatmap|badge|colormap)' analysis; then
  echo "layers: the files above (analysis/) include widgets or ImGui"; bad=1
fi
if grep -rlE '#include "(io|model|jobs|library|families|analyzers|lm|train|tokenizers)/' widgets; then
  echo "layers: the files above (widgets/) include analysis"; bad=1
fi
if grep -rlE '#include [<"](torch/|ATen/|c10/)|#include "model/' app; then
  echo "layers: the files above (app/) include torch or a model header (panels read results)"; bad=1
fi
if grep -lE '#include "[a-z_]*_panel\.h"' app/panels/*; then
  echo "layers: the panels above include another panel"; bad=1
fi
if [ $bad -eq 0 ]; then echo "layers: every include follows the layer order"; fi
exit $bad
