#!/usr/bin/env bash
# bench_smoke.sh - `tapsock bench --quick` runs end to end and its table, JSON and SVG charts are well-formed (no speed is asserted).
#
# The bench creates and deletes its own namespaces (tskb-PID-*) on 10.77.74-76.0/24.
. "$(dirname "$0")/lib.sh"
e2e_require
command -v python3 >/dev/null || skip "no python3 (the bench runner is Python)"
command -v taskset >/dev/null || skip "no taskset (util-linux)"
TMP=$(mktemp -d /tmp/tske2e-bench.XXXXXX) || fail "mktemp"
on_exit "rm -rf '$TMP'"

ip netns list | awk '/^tskb-/ { print $1 }' | sort >"$TMP/ns.before"
check "tapsock bench --quick exits 0"
timeout -k 5 120 "$TAPSOCK" bench --quick --subnet 74 --json "$TMP/r.json" --plot "$TMP/plots" \
	>"$TMP/out.txt" 2>"$TMP/err.txt" || {
	cat "$TMP/out.txt" "$TMP/err.txt" >&2
	cfail "exit status $?"
}
pass
cat "$TMP/out.txt"

check "the table has its header, the pinned congestion control and a row per figure"
grep -q '^workload .*kernel (veth) .*engine (services)' "$TMP/out.txt" || cfail "no table header"
grep -q 'congestion control: cubic' "$TMP/out.txt" || cfail "congestion control not printed"
for label in 'bulk 1 stream, tapsock receives' 'bulk 1 stream, tapsock sends' \
	'req/resp 64 B' 'connect, 64 B each way, close' 'connections: open' 'raw TAP write'; do
	grep -q "$label" "$TMP/out.txt" || cfail "no row '$label'"
done
pass

check "the JSON holds every workload with a figure for the kernel and the engine"
python3 - "$TMP/r.json" <<'PY' || cfail "see above"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["meta"]
assert m["congestion_control"]["pinned"] == "cubic", m["congestion_control"]
ids = {r["id"]: r for r in d["results"]}
want = ["bulk-1-rx", "bulk-1-tx", "rr-64-diff", "crr", "conc-open", "conc-mem", "conc-active",
        "raw-tx", "raw-rx"]
missing = [w for w in want if w not in ids]
assert not missing, "missing results: %s" % missing
for w in want:
    r = ids[w]
    for st in ("kernel", "engine"):
        s = r["stacks"][st]
        assert isinstance(s.get("median"), (int, float)), "%s %s: no figure (%s)" % (w, st, s)
        assert s["min"] <= s["median"] <= s["max"], (w, st, s)
    assert isinstance(r["ratios"]["engine"]["median"], (int, float)), (w, r["ratios"])
    p = r["stacks"].get("preload")
    # the preload column is a figure or says why not
    assert p is None or "na" in p or isinstance(p.get("median"), (int, float)), (w, p)
# the library's connection rate is measured in both placements of the engine
if isinstance(ids["crr"]["stacks"].get("preload", {}).get("median"), (int, float)):
    assert "with the client" in ids["crr"]["how"], ids["crr"]["how"]
    b = ids["crr-beside"]
    assert isinstance(b["stacks"]["preload"].get("median"), (int, float)), b
    assert "with the program" in b["how"], b["how"]
rr = ids["rr-64-diff"]["stacks"]["kernel"]["extra"]
assert rr["cdf_last_round"] and rr["p99_us"]["median"] >= ids["rr-64-diff"]["stacks"]["kernel"]["median"]
print("ok: %d results" % len(d["results"]))
PY
pass

check "the charts are SVG documents"
n=0
for f in "$TMP"/plots/*.svg; do
	[ -e "$f" ] || break
	python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg")' "$f" ||
		cfail "$(basename "$f") is not well-formed SVG"
	n=$((n + 1))
done
((n >= 4)) || cfail "only $n charts written"
pass "$n charts"

check "each chart has a PNG beside it (rsvg-convert installed)"
if command -v rsvg-convert >/dev/null; then
	for f in "$TMP"/plots/*.svg; do
		p=${f%.svg}.png
		[ "$(head -c 8 "$p" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
			cfail "$(basename "$p") missing or not a PNG"
	done
	pass
else
	pass "rsvg-convert not installed: SVG only"
fi

check "the bench deleted the namespaces it created"
ip netns list | awk '/^tskb-/ { print $1 }' | sort >"$TMP/ns.after"
left=
# another bench running at the same time has its own tskb-PID-* namespaces: only those
# whose bench process is gone were left behind
for ns in $(comm -13 "$TMP/ns.before" "$TMP/ns.after"); do
	pid=${ns#tskb-}
	pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null || left="$left $ns"
done
[ -z "$left" ] || cfail "left behind:$left"
pass
echo PASS
