#!/bin/sh
# run-fuzz.sh - build the frame fuzzer with clang in BUILDDIR and run it for SECONDS.
# Usage: tests/fuzz/run-fuzz.sh [BUILDDIR] [SECONDS]. Exits non-zero on a crash;
# the reproducer is left in BUILDDIR/fuzz-artifacts/.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$src/build-fuzz}
secs=${2:-60}
if [ ! -d "$build/meson-private" ]; then
	CC=clang meson setup "$build" "$src" -Dfuzz=true -De2e=false -Dbuildtype=debugoptimized
fi
ninja -C "$build" tests/fuzz/fuzz_frame
work="$build/fuzz-corpus"          # grows as the fuzzer finds new paths
mkdir -p "$work" "$build/fuzz-artifacts"
exec "$build/tests/fuzz/fuzz_frame" -max_total_time="$secs" -max_len=8192 \
	-artifact_prefix="$build/fuzz-artifacts/" -print_final_stats=1 \
	"$work" "$src/tests/fuzz/corpus/frame"
