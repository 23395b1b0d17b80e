# bench_plot.py - SVG charts of `tapsock bench` results: bars per stack with min-max whiskers, ratios against the kernel, latency CDFs (no RFC; SVG 1.1).
#
# Hand-written SVG, no plotting library (a PNG of each beside it when rsvg-convert is
# installed): write_all(results, meta, dir) returns the files written. Used by tapsock-bench --plot DIR; also runs alone on a --json file:
#   python3 bench_plot.py results.json DIR
import json, math, os, shutil, subprocess, sys
from xml.sax.saxutils import escape

COLORS = {"kernel": "#4c72b0", "engine": "#dd8452", "preload": "#55a868"}
NAMES = {"kernel": "kernel (veth)", "engine": "tapsock engine (services)",
         "preload": "tapsock (preload)"}
# issue 6's targets: the ratio a stack should reach (>= for "higher", <= for "lower")
# (bulk: one stream and several; request/response: every size, both placements)
TARGETS = {"bulk-1-tx": 1.0, "bulk-4-tx": 1.0, "bulk-1-rx": 0.55, "bulk-4-rx": 0.55,
           "crr": 0.7, "conc-open": 0.5}
TARGETS.update({"rr-%d-%s" % (n, p): 1.3 for n in (1, 64, 16384) for p in ("diff", "same")})
# targets that are absolute figures, not ratios: drawn on the bar charts
LIMITS = {"conc-mem": (16.0, "target: 16 KiB per idle connection")}
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


class Svg:
    def __init__(self, w, h):
        self.w, self.h, self.parts = w, h, []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", color="#222", weight="normal"):
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" fill="%s" '
                 'font-weight="%s" %s>%s</text>' % (x, y, size, anchor, color, weight, FONT,
                                                     escape(str(s))))

    def line(self, x1, y1, x2, y2, color="#999", width=1, dash=None):
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"%s/>'
                 % (x1, y1, x2, y2, color, width, ' stroke-dasharray="%s"' % dash if dash else ""))

    def rect(self, x, y, w, h, color, opacity=1.0):
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="%g"/>'
                 % (x, y, max(w, 0), h, color, opacity))

    def polyline(self, pts, color, width=2):
        self.add('<polyline fill="none" stroke="%s" stroke-width="%g" points="%s"/>' % (
            color, width, " ".join("%.1f,%.1f" % p for p in pts)))

    def save(self, path):
        with open(path, "w") as f:
            f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                    'viewBox="0 0 %d %d">\n<rect width="100%%" height="100%%" fill="white"/>\n'
                    % (self.w, self.h, self.w, self.h))
            f.write("\n".join(self.parts))
            f.write("\n</svg>\n")


def fmt(v):
    if v is None:
        return "-"
    if v >= 1000:
        return "{:,.0f}".format(v)
    return "%.3g" % v


def nice_max(v):
    if v <= 0:
        return 1
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def legend(svg, x, y, stacks):
    for st in stacks:
        svg.rect(x, y - 10, 12, 12, COLORS[st])
        svg.text(x + 16, y, NAMES[st], 12)
        x += 30 + 7 * len(NAMES[st])


def subtitle(meta):
    return "%d round(s) x %gs; bars: median, whiskers: min-max; kernel peer CC %s pinned" % (
        meta.get("rounds", 1), meta.get("seconds", 0),
        meta.get("congestion_control", {}).get("pinned", "?"))


def bars(results, meta, title, path, note=""):
    """horizontal bars: one group per result, one bar per stack, whiskers min-max"""
    stacks = [s for s in ("kernel", "engine", "preload")
              if any(s in r["stacks"] for r in results)]
    rows = sum(len([s for s in stacks if s in r["stacks"]]) for r in results)
    left, width = 340, 540
    h = 80 + rows * 22 + len(results) * 16 + 50
    svg = Svg(left + width + 120, h)
    svg.text(20, 28, title, 17, weight="bold")
    svg.text(20, 48, subtitle(meta) + note, 11, color="#555")
    limits = [LIMITS[r["id"]] for r in results if r["id"] in LIMITS]
    vmax = nice_max(max([s.get("max") or 0 for r in results for s in r["stacks"].values()] +
                        [v * 1.1 for v, _ in limits] + [0]))
    y = 75
    top = y
    for r in results:
        svg.text(20, y + 14, r["label"][:44], 12, weight="bold")
        svg.text(20, y + 28, "%s, %s is better" % (r["unit"], r["better"]), 10, color="#777")
        for st in stacks:
            s = r["stacks"].get(st)
            if s is None:
                continue
            if "na" in s or s.get("median") is None:
                svg.text(left + 6, y + 15, "n/a" if "na" in s else "failed", 11, color="#999")
            else:
                bw = width * s["median"] / vmax
                svg.rect(left, y + 4, bw, 15, COLORS[st])
                if s["min"] is not None and len(s["rounds"]) > 1:
                    x1, x2 = left + width * s["min"] / vmax, left + width * s["max"] / vmax
                    svg.line(x1, y + 11.5, x2, y + 11.5, "#222", 1.2)
                    svg.line(x1, y + 7, x1, y + 16, "#222", 1.2)
                    svg.line(x2, y + 7, x2, y + 16, "#222", 1.2)
                label = fmt(s["median"])
                rat = r["ratios"].get(st)
                if rat and rat.get("median") is not None:
                    label += "   (%.2fx kernel)" % rat["median"]
                svg.text(left + max(bw, width * (s.get("max") or 0) / vmax) + 6, y + 16, label, 11)
            y += 22
        y += 16
    for i in range(5):
        x = left + width * i / 4
        svg.line(x, top - 4, x, y - 10, "#ddd")
        svg.text(x, y + 4, fmt(vmax * i / 4), 10, "middle", "#555")
    for v, what in limits:
        svg.line(left + width * v / vmax, top - 4, left + width * v / vmax, y - 10, "#b42318", 2, "5,3")
        svg.text(left + width * v / vmax, top - 8, what, 10, "middle", "#b42318")
    legend(svg, left, y + 28, stacks)
    svg.save(path)
    return path


def ratios(results, meta, path):
    """every workload's stack/kernel ratio on one log axis, with issue 6's targets"""
    rows = [(r, st) for r in results for st in ("engine", "preload")
            if r["ratios"].get(st, {}).get("median") is not None]
    if not rows:
        return None
    left, width = 330, 520
    h = 130 + len(rows) * 24
    svg = Svg(left + width + 60, h)
    svg.text(20, 28, "tapsock / kernel, per workload", 17, weight="bold")
    svg.text(20, 48, "median ratio of the rounds (whiskers min-max); right of 1 = tapsock better "
             "for throughput and rates, worse for latency and memory; | target (figure green: met)", 11, color="#555")
    lo, hi = math.log10(0.05), math.log10(20)

    def X(v):
        v = min(max(v, 0.05), 20)
        return left + width * (math.log10(v) - lo) / (hi - lo)
    y = 75
    for r, st in rows:
        rat = r["ratios"][st]
        t = TARGETS.get(r["id"])
        # green: the target is met (or, without a target, at least the kernel's)
        good = (rat["median"] >= (t or 1)) == (r["better"] == "higher")
        if t and rat["median"] == t:
            good = True
        svg.text(20, y + 14, "%s%s" % (r["label"], "" if st == "engine" else " (preload)"), 11)
        svg.line(X(1), y + 10, X(rat["median"]), y + 10, COLORS[st], 9)
        if len(rat["rounds"]) > 1:
            svg.line(X(rat["min"]), y + 10, X(rat["max"]), y + 10, "#222", 1)
        svg.text(X(rat["median"]) + (6 if rat["median"] >= 1 else -6), y + 14,
                 "%.2f" % rat["median"], 10, "start" if rat["median"] >= 1 else "end",
                 "#1a7f37" if good else "#b42318")
        if t:
            svg.line(X(t), y + 2, X(t), y + 18, "#b42318", 2)
        y += 24
    for v in (0.1, 0.2, 0.5, 1, 2, 5, 10):
        svg.line(X(v), 65, X(v), y, "#222" if v == 1 else "#ddd", 1.5 if v == 1 else 1)
        svg.text(X(v), y + 16, "%gx" % v, 10, "middle", "#555")
    legend(svg, left, y + 40, [s for s in ("engine", "preload") if any(st == s for _, st in rows)])
    svg.save(path)
    return path


def cdfs(results, meta, path):
    """latency CDFs (last round), one panel per request/response configuration"""
    panels = [r for r in results if any(s.get("extra", {}).get("cdf_last_round")
                                        for s in r["stacks"].values())]
    if not panels:
        return None
    cols = 2 if len(panels) > 1 else 1
    pw, ph = 460, 300
    rows = (len(panels) + cols - 1) // cols
    svg = Svg(cols * pw + 40, rows * ph + 110)
    svg.text(20, 28, "Latency distributions (CDF), last round", 17, weight="bold")
    svg.text(20, 48, "x: microseconds (log); y: percentile, spaced by nines so the tail shows; "
             "further left is faster", 11, color="#555")
    for i, r in enumerate(panels):
        ox, oy = 20 + (i % cols) * pw, 70 + (i // cols) * ph
        x0, y0, w, h = ox + 45, oy + 30, pw - 80, ph - 80
        curves = {st: s["extra"]["cdf_last_round"] for st, s in r["stacks"].items()
                  if s.get("extra", {}).get("cdf_last_round")}
        vals = [v for c in curves.values() for _, v in c if v > 0]
        lo = math.floor(math.log10(max(min(vals), 0.1)))
        hi = math.ceil(math.log10(max(vals)))
        if hi <= lo:
            hi = lo + 1
        svg.text(ox, oy + 16, r["label"], 13, weight="bold")
        for e in range(lo, hi + 1):
            x = x0 + w * (e - lo) / (hi - lo)
            svg.line(x, y0, x, y0 + h, "#e5e5e5")
            svg.text(x, y0 + h + 14, fmt(10 ** e), 10, "middle", "#555")
        # y in "nines" (-log10 of the fraction above): the tail gets as much room as the body
        top9 = 4.0

        def Y(q):
            q = min(q, 0.9999)
            return y0 + h - h * (-math.log10(1 - q)) / top9
        for q, lab in ((0, "0"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (0.999, "p99.9"),
                       (0.9999, "p99.99")):
            svg.line(x0, Y(q), x0 + w, Y(q), "#e5e5e5")
            svg.text(x0 - 4, Y(q) + 4, lab, 9, "end", "#555")
        svg.line(x0, y0 + h, x0 + w, y0 + h, "#999")
        svg.line(x0, y0, x0, y0 + h, "#999")
        ly = y0 + h - 8
        for st, c in curves.items():
            pts = []
            for p, v in c:
                v = max(v, 10 ** lo)
                pts.append((x0 + w * (math.log10(v) - lo) / (hi - lo), Y(p / 100)))
            svg.polyline(pts, COLORS[st])
            at = dict((p, v) for p, v in c)
            txt = "%s: p50 %s, p99 %s, p99.9 %s us" % (NAMES[st].split(" (")[0], fmt(at.get(50)),
                                                       fmt(at.get(99)), fmt(at.get(99.9)))
            svg.text(x0 + 6, y0 + 12 + (ly - (y0 + h - 8)) * -1, txt, 10, "start", COLORS[st], "bold")
            ly -= 14
    svg.save(path)
    return path


def write_all(results, meta, outdir):
    os.makedirs(outdir, exist_ok=True)
    out = []
    groups = [
        ("throughput.svg", "Throughput, Gbit/s (bulk TCP, raw TAP link, iperf3)",
         lambda r: r["unit"] == "Gbit/s"),
        ("connrate.svg", "Connection rate and many connections, per second",
         lambda r: r["unit"] == "conn/s"),
        ("requests.svg", "Requests per second", lambda r: r["unit"] == "req/s"),
        ("latency_p50.svg", "Request/response latency p50, microseconds (shorter is better)",
         lambda r: r["unit"] == "us"),
        ("memory.svg", "Memory per connection endpoint, KiB (shorter is better)",
         lambda r: r["unit"] == "KiB"),
    ]
    for name, title, pred in groups:
        sel = [r for r in results if pred(r)]
        if sel:
            out.append(bars(sel, meta, title, os.path.join(outdir, name)))
    for p in (ratios(results, meta, os.path.join(outdir, "ratios.svg")),
              cdfs(results, meta, os.path.join(outdir, "latency_cdf.svg"))):
        if p:
            out.append(p)
    return out + pngs(out)


def pngs(svgs):
    """a PNG beside each SVG when rsvg-convert is installed (image viewers, issue
    trackers and chat previews show PNG, not always SVG)"""
    conv = shutil.which("rsvg-convert")
    if not conv:
        return []
    done = []
    for p in svgs:
        png = p[:-4] + ".png"
        if subprocess.run([conv, "-b", "white", p, "-o", png], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            done.append(png)
    return done


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: bench_plot.py RESULTS.json DIR", file=sys.stderr)
        sys.exit(2)
    d = json.load(open(sys.argv[1]))
    for p in write_all(d["results"], d["meta"], sys.argv[2]):
        print(p)
