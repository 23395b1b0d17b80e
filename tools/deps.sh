#!/usr/bin/env bash
# deps.sh - install what tapsock needs to build and test, from Debian's archive.
# Idempotent: only missing packages are installed. Needs root (or sudo) on Debian 12.
set -euo pipefail

pkgs=(gcc clang libclang-rt-14-dev meson ninja-build pkg-config liburing-dev
      libcriterion-dev iproute2 iputils-ping arping tcpdump python3 socat
      # real programs of the end-to-end tests (tests/e2e/prog_*.sh); redis-server
      # brings redis-tools (redis-cli, redis-benchmark)
      curl wget nginx redis-server redis-tools iperf3 netcat-openbsd)
# tapsock bench (tools/bench): standard tools it runs on both stacks (iperf3, nginx and
# redis come above), rsvg-convert to turn its SVG charts into PNG
pkgs+=(sockperf wrk librsvg2-bin)
# lossy-path tests and the compatibility suite drop packets with nftables (this
# kernel has no netem)
pkgs+=(nftables)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "deps: need root to install: ${missing[*]}" >&2; exit 1; }
	sudo=sudo
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# nginx and redis-server are test programs here, not services of this machine:
# keep their packages from starting them system-wide (invoke-rc.d asks policy-rc.d)
policy=/usr/sbin/policy-rc.d
made_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
	$sudo chmod +x "$policy"
	made_policy=1
fi
trap '[ -n "$made_policy" ] && $sudo rm -f "$policy"' EXIT
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
