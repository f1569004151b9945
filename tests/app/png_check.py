#!/usr/bin/python3
"""Checks on headscope's PNG screenshots (unfiltered RGBA rows).

  png_check.py nonblank FILE          more than a few distinct colours
  png_check.py differ A B [MIN_FRAC]  at least MIN_FRAC of the pixels differ
  png_check.py same A B [MAX_FRAC]    at most MAX_FRAC of the pixels differ
"""
import struct, sys, zlib


def pixels(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', f'{path}: not a PNG'
    pos, idat, w, h = 8, b'', 0, 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b'IHDR':
            w, h = struct.unpack('>II', body[:8])
        if kind == b'IDAT':
            idat += body
    raw = zlib.decompress(idat)
    stride = 1 + 4 * w
    assert all(raw[r * stride] == 0 for r in range(h)), f'{path}: unexpected PNG filter'
    return w, h, [raw[r * stride + 1:(r + 1) * stride] for r in range(h)]


def main():
    if sys.argv[1] == 'nonblank':
        w, h, rows = pixels(sys.argv[2])
        colours = set()
        for r in range(0, h, 3):
            row = rows[r]
            colours.update(row[i:i + 3] for i in range(0, len(row), 12))
        print(f'{sys.argv[2]}: {w}x{h}, {len(colours)} distinct colours')
        assert w > 100 and h > 100 and len(colours) > 20, 'screenshot looks blank'
    elif sys.argv[1] in ('differ', 'same'):
        wa, ha, a = pixels(sys.argv[2])
        wb, hb, b = pixels(sys.argv[3])
        assert (wa, ha) == (wb, hb), 'sizes differ'
        diff = sum(1 for r in range(ha) for i in range(0, 4 * wa, 4) if a[r][i:i + 3] != b[r][i:i + 3])
        frac = diff / (wa * ha)
        print(f'{sys.argv[2]} vs {sys.argv[3]}: {100 * frac:.2f}% of pixels differ')
        if sys.argv[1] == 'differ':
            min_frac = float(sys.argv[4]) if len(sys.argv) > 4 else 0.01
            assert frac >= min_frac, 'screenshots should differ but are (nearly) the same'
        else:
            max_frac = float(sys.argv[4]) if len(sys.argv) > 4 else 0.001
            assert frac <= max_frac, 'screenshots should show the same picture but differ'


main()
