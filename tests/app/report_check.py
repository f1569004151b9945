#!/usr/bin/python3
"""Checks a `headscope report` folder in a real browser.

  report_check.py REPORT_DIR N_FIGURES WORK

- report.html references nothing outside itself (no http(s):, //, file: or
  relative src/href), and holds N_FIGURES <img> elements whose data: URIs are
  valid PNGs;
- Debian's chromium, headless and with networking disabled (every host
  resolves to nothing, the proxy is a closed port), loads the page and a script
  added to a copy reports how many images the browser decoded: all of them;
- chromium renders the page to a screenshot, which is decoded here (every
  PNG filter) and must not be blank;
- report.md links N_FIGURES figures that exist.
"""
import base64, os, re, struct, subprocess, sys, zlib

report, n_want, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
html = open(os.path.join(report, 'report.html'), encoding='utf-8').read()

refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html)
external = [r for r in refs if not r.startswith('data:') and not r.startswith('#')]
assert not external, f'report.html references outside itself: {external[:3]}'
assert '<link' not in html and '@import' not in html, 'stylesheet links'
imgs = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', html)
assert len(imgs) == n_want, f'{len(imgs)} embedded images, expected {n_want}'


def png_pixels(data):
    assert data[:8] == b'\x89PNG\r\n\x1a\n', 'not a PNG'
    pos, idat = 8, b''
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
        elif kind == b'IDAT':
            idat += body
    assert depth == 8 and ctype in (2, 6), f'unexpected PNG format depth {depth} type {ctype}'
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for r in range(h):
        f = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


for i, b in enumerate(imgs):
    data = base64.b64decode(b)
    assert data[:8] == b'\x89PNG\r\n\x1a\n', f'image {i} is not a PNG'
    w, h = struct.unpack('>II', data[16:24])
    assert w >= 200 and h >= 150, f'image {i} is {w}x{h}'

chrome = ['chromium', '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
          '--disable-extensions',
          '--user-data-dir=' + os.path.join(work, 'chrome-profile'),
          '--host-resolver-rules=MAP * ~NOTFOUND', '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>']
probe = os.path.join(report, 'browser_probe.html')
# After "load", an image the browser could not decode is complete with naturalWidth 0.
script = ('<script>window.addEventListener("load",()=>{const im=[...document.images];'
          'document.title="IMAGES "+im.length+" DECODED "+im.filter(i=>i.complete&&i.naturalWidth>0).length;});</script>')
open(probe, 'w', encoding='utf-8').write(html.replace('</body>', script + '</body>'))
dom = subprocess.run(chrome + ['--virtual-time-budget=10000', '--dump-dom', 'file://' + os.path.abspath(probe)],
                     capture_output=True, text=True, timeout=180)
os.remove(probe)
m = re.search(r'<title>IMAGES (\d+) DECODED (\d+)</title>', dom.stdout)
assert m, f'chromium did not run the page: rc {dom.returncode} {dom.stderr[-500:]}'
assert int(m.group(1)) == n_want and int(m.group(2)) == n_want, f'chromium decoded {m.group(2)} of {m.group(1)} images'

shot = os.path.join(work, 'report_chromium.png')
if os.path.exists(shot):
    os.remove(shot)
r = subprocess.run(chrome + ['--hide-scrollbars', '--window-size=1200,1600', '--screenshot=' + shot,
                             'file://' + os.path.abspath(os.path.join(report, 'report.html'))],
                   capture_output=True, text=True, timeout=180)
assert os.path.exists(shot), f'no screenshot: rc {r.returncode} {r.stderr[-500:]}'
w, h, bpp, rows = png_pixels(open(shot, 'rb').read())
colours = set()
for row in rows[::8]:
    for x in range(0, len(row), bpp * 8):
        colours.add(row[x:x + 3])
assert len(colours) > 50, f'the screenshot looks blank ({len(colours)} colours)'

md = open(os.path.join(report, 'report.md'), encoding='utf-8').read()
links = re.findall(r'!\[[^\]]*\]\(([^)]+)\)', md)
assert len(links) == n_want, f'report.md links {len(links)} figures'
for l in links:
    assert os.path.exists(os.path.join(report, l)), f'report.md links a missing {l}'
print(f'report_check: ok: {n_want} images decoded by chromium, screenshot {w}x{h} with {len(colours)} colours')
