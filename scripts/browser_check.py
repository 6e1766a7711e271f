#!/usr/bin/env python3
"""Analysis half of scripts/browser_check (standard library only).

For one page rendered by headless Chromium it reads:
  - the screenshot (PNG, decoded here with zlib): the page must not be blank
    (enough distinct colours and enough non-white pixels; with --expect-ecg also
    enough ECG-paper pink and dark trace pixels);
  - the net log (--log-net-log JSON): no request initiated by the page, i.e. no
    URL_REQUEST_START_JOB whose network isolation key is the file:// page (Chromium's
    own background requests have other keys; they fail anyway, since every host name
    is mapped to ~NOTFOUND) and no request for anything but file:/data:;
  - Chromium's stderr (--enable-logging=stderr): no console message (the pages have no
    script, so any console line is an error such as a failed load or a bad SVG value);
  - the DOM as Chromium parsed it (--dump-dom), with --expect-ecg: every
    <svg class="ecg"> holds exactly 12 polyline.lead and 1 polyline.rhythm.

Usage: browser_check.py PAGE.html PNG NETLOG STDERR DOM [--expect-ecg]
Prints one summary line; exit status 0 if every check passes, 1 otherwise.
"""
import html.parser
import json
import struct
import sys
import zlib


def read_png(path):
    """Returns (width, height, channels, rows) with rows a list of unfiltered bytearrays."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat = 8, []
    width = height = depth = ctype = interlace = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {ctype}, interlace {interlace})")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        base = y * (stride + 1)
        ftype = raw[base]
        cur = bytearray(raw[base + 1:base + 1 + stride])
        if ftype == 1:  # Sub
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif ftype == 2:  # Up
            cur = bytearray((a + b) & 255 for a, b in zip(cur, prev))
        elif ftype == 3:  # Average
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
        elif ftype == 4:  # Paeth
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if (pa <= pb and pa <= pc) else (b if pb <= pc else c)
                cur[i] = (cur[i] + pred) & 255
        elif ftype != 0:
            raise ValueError(f"bad PNG filter {ftype} in row {y}")
        rows.append(cur)
        prev = cur
    return width, height, bpp, rows


def screenshot_stats(path):
    w, h, bpp, rows = read_png(path)
    colours, ink, pink, dark = set(), 0, 0, 0
    for row in rows:
        for x in range(0, w * bpp, bpp):
            r, g, b = row[x], row[x + 1], row[x + 2]
            colours.add((r, g, b))
            if r < 245 or g < 245 or b < 245:
                ink += 1
            if r > 200 and r - g > 25 and abs(g - b) < 20:
                pink += 1  # ECG paper grid (#f6c4c4, #e48b8b and their blends)
            if r < 90 and g < 90 and b < 90:
                dark += 1  # traces and text
    n = w * h
    return {"width": w, "height": h, "colours": len(colours), "ink": ink / n,
            "pink": pink / n, "dark": dark / n}


def page_requests(netlog_path):
    """URLs of requests the page made (and any request for a non-file, non-data URL that
    is tied to the file:// page)."""
    with open(netlog_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        # Chromium may be killed before it closes the JSON: close it ourselves.
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    types = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    found = []
    for ev in log.get("events", []):
        if types.get(ev.get("type")) != "URL_REQUEST_START_JOB":
            continue
        p = ev.get("params", {})
        url = p.get("url", "")
        nik = p.get("network_isolation_key", "")
        from_page = nik.startswith("file://") or p.get("initiator", "").startswith("file")
        if from_page and not (url.startswith("file:") or url.startswith("data:")):
            found.append(url)
    return found


def console_lines(stderr_path):
    with open(stderr_path, encoding="utf-8", errors="replace") as f:
        return [ln.strip() for ln in f if ":CONSOLE" in ln]


class EcgCounter(html.parser.HTMLParser):
    """Counts polyline.lead / polyline.rhythm inside each svg.ecg of the parsed DOM."""

    def __init__(self):
        super().__init__()
        self.ecgs, self.depth = [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            if self.depth:
                self.depth += 1
            elif a.get("class") == "ecg":
                self.ecgs.append({"lead": 0, "rhythm": 0, "leads": []})
                self.depth = 1
        elif tag == "polyline" and self.depth:
            cls = a.get("class")
            if cls in ("lead", "rhythm"):
                self.ecgs[-1][cls] += 1
                if cls == "lead":
                    self.ecgs[-1]["leads"].append(a.get("data-lead"))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg" and self.depth:
            self.depth -= 1

    def handle_endtag(self, tag):
        if tag == "svg" and self.depth:
            self.depth -= 1


def main(argv):
    if len(argv) < 6:
        print(__doc__)
        return 2
    page, png, netlog, stderr_path, dom = argv[1:6]
    expect_ecg = "--expect-ecg" in argv[6:]
    problems = []
    s = screenshot_stats(png)
    if s["colours"] < 32:
        problems.append(f"screenshot looks blank: {s['colours']} distinct colours")
    if s["ink"] < 0.02:
        problems.append(f"screenshot looks blank: {100 * s['ink']:.2f}% non-white pixels")
    if expect_ecg and s["pink"] < 0.02:
        problems.append(f"no ECG paper visible: {100 * s['pink']:.2f}% pink pixels")
    if expect_ecg and s["dark"] < 0.002:
        problems.append(f"no ECG trace visible: {100 * s['dark']:.3f}% dark pixels")
    reqs = page_requests(netlog)
    if reqs:
        problems.append(f"{len(reqs)} network request(s): " + ", ".join(reqs[:5]))
    cons = console_lines(stderr_path)
    if cons:
        problems.append(f"{len(cons)} console message(s): " + " | ".join(cons[:3]))
    counter = EcgCounter()
    with open(dom, encoding="utf-8", errors="replace") as f:
        counter.feed(f.read())
    if expect_ecg:
        if not counter.ecgs:
            problems.append("no <svg class=\"ecg\"> in the DOM")
        for i, e in enumerate(counter.ecgs):
            if e["lead"] != 12 or e["rhythm"] != 1 or len(set(e["leads"])) != 12:
                problems.append(f"ECG {i}: {e['lead']} lead traces ({len(set(e['leads']))} "
                                f"distinct), {e['rhythm']} rhythm strips in the DOM")
    print(f"{page}: {s['width']}x{s['height']}, {s['colours']} colours, "
          f"{100 * s['ink']:.1f}% ink, {100 * s['pink']:.1f}% ECG paper, "
          f"{len(counter.ecgs)} ECG drawings in the DOM, {len(reqs)} page requests, "
          f"{len(cons)} console messages: {'OK' if not problems else 'FAIL'}")
    for p in problems:
        print(f"  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
