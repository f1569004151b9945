#!/usr/bin/env bash
# The explorer in a real window under Xvfb: it renders frames of a tiny run
# and writes a non-blank screenshot; without a display it says so in words.
set -euo pipefail
HS=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK"
"$HS" train --p 11 --d-model 32 --d-mlp 64 --train-frac 0.8 --epochs 60 --checkpoints 0:20 --out "$WORK/runs" --quiet
RUN="$WORK/runs/modadd_1l/p11_seed999_frac0.8_d32h4x32m64"

# No display: a clear message naming the headless commands, non-zero exit.
set +e
msg=$(env -u DISPLAY -u WAYLAND_DISPLAY "$HS" --run "$RUN" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || { echo "explorer without display exited 0"; exit 1; }
echo "$msg" | grep -q "no display" || { echo "missing no-display message: $msg"; exit 1; }
echo "$msg" | grep -q "headscope train" || { echo "no headless commands named: $msg"; exit 1; }

# A missing run folder is reported.
set +e
msg=$(xvfb-run -a "$HS" --run "$WORK/nope" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] && echo "$msg" | grep -q "not a run folder" || { echo "bad --run not reported: $msg"; exit 1; }

cd "$WORK"
xvfb-run -a -s "-screen 0 1280x800x24" "$HS" --run "$RUN" --frames 20 --screenshot "$WORK/shot.png"
python3 - "$WORK/shot.png" <<'PY'
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
pos, idat, w, h = 8, b'', 0, 0
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos+8]); body = data[pos+8:pos+8+n]; pos += 12 + n
    if kind == b'IHDR': w, h = struct.unpack('>II', body[:8])
    if kind == b'IDAT': idat += body
raw = zlib.decompress(idat)
stride = 1 + 4 * w  # headscope writes filter type 0 (none) on every row
assert all(raw[r * stride] == 0 for r in range(h)), 'unexpected PNG filter'
px = set()
for r in range(0, h, 4):
    row = raw[r * stride + 1:(r + 1) * stride]
    px.update(row[i:i+3] for i in range(0, len(row), 16))
distinct = len(px)
print(f'screenshot {w}x{h}, {distinct} distinct colours')
assert w > 100 and h > 100 and distinct > 8, 'screenshot looks blank'
PY
echo "window test passed"
