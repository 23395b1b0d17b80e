#!/usr/bin/env bash
# prog_iperf3.sh - iperf3 on tapsock in both roles and both directions (-R): 50 MB each time, the byte counts of its JSON report checked (RFC 9293 flow control, RFC 5681).
. "$(dirname "$0")/prog_lib.sh"
prog_init 74 prog_iperf3 iperf3
BYTES=$((50 * 1024 * 1024))

# check_json FILE: the sender sent the 50 MB that -n asks for (with -R the server may
# send a 128 KB block more), the receiver counted at most that and at least all
# but 16 MB. iperf3 stops counting at the
# receiver when the sender says it is done, so what still sits in the socket
# buffers then (up to the kernel's tcp_rmem + tcp_wmem maxima, 6 + 4 MB) is not in
# its total even on the kernel.
check_json() {
	"$PY" - "$1" "$BYTES" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    sys.exit("iperf3 error: " + r["error"])
s, v = r["end"]["sum_sent"]["bytes"], r["end"]["sum_received"]["bytes"]
want = int(sys.argv[2])
print(f"sent {s} received {v} bytes, {r['end']['sum_received']['bits_per_second'] / 1e6:.0f} Mbit/s")
sys.exit(0 if want <= s <= want + 2**20 and want - 16 * 2**20 <= v <= s else 1)
PY
}

# run SIDE SERVER_ADDR PORT WHAT [-R]: one 50 MB test from the client on SIDE
run() {
	local side=$1 addr=$2 port=$3 what=$4 out
	shift 4
	out=$WORK/$side-$port$*.json
	# the iperf3 server listens anew after each test: wait for it
	if [ "$side" = tsk ]; then wait_listen kern "$port"; else wait_listen tsk "$port"; fi
	check "$what"
	$side 50 iperf3 -c "$addr" -p "$port" -n "$BYTES" -J "$@" > "$out" 2> "$out.err" ||
		{ rc=$?; show "$out" "$out.err"; cfail "iperf3: $(status $rc)"; }
	check_json "$out" > "$out.sum" 2>&1 || { show "$out.sum"; cfail "byte counts"; }
	pass "$(cat "$out.sum")"
}

# --- client on tapsock, kernel server
bg kern 55 iperf3 -s -p 5201 -B "$KADDR" > "$WORK/kserver.out" 2>&1
wait_listen kern 5201 $BG
tsk_mark
run tsk "$KADDR" 5201 "iperf3 client on tapsock sends 50 MB to a kernel server"
run tsk "$KADDR" 5201 "iperf3 client on tapsock receives 50 MB from a kernel server (-R)" -R
tsk_grew tcp_active_opens 4

# --- server on tapsock, kernel client
bg tsk 55 iperf3 -s -p 5202 > "$WORK/tserver.out" 2>&1
wait_listen tsk 5202 $BG
tsk_mark
run kern "$EADDR" 5202 "iperf3 server on tapsock receives 50 MB from a kernel client"
run kern "$EADDR" 5202 "iperf3 server on tapsock sends 50 MB to a kernel client (-R)" -R
tsk_grew tcp_passive_opens 4
echo PASS
