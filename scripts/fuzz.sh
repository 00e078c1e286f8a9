#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Long fuzzing runs (make fuzz). Builds build-fuzz/ with clang and libFuzzer,
# runs every fuzz_* target for $FUZZ_TIME seconds (default 600) on a work copy
# of its corpus, then merges the inputs that add coverage into the committed
# corpus, tests/fuzz/corpus/<target>/. Review and commit those new files.
#
#   FUZZ_TIME=60 scripts/fuzz.sh              every target, 60 s each
#   scripts/fuzz.sh fuzz_wire                 only these targets
#   FUZZ_BUILD_DIR=build-x scripts/fuzz.sh    another build dir
#
# Crashes are written to build-fuzz/fuzz-artifacts/<target>-crash-*; replay
# one with build-fuzz/tests/fuzz/<target> FILE. Exit 1 if any target crashed
# or failed to run.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

build=${FUZZ_BUILD_DIR:-build-fuzz}
time=${FUZZ_TIME:-600}

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is not installed (scripts/deps.sh installs it)" >&2
	exit 1
fi
if [[ ! -f $build/meson-private/coredata.dat ]]; then
	CC=clang meson setup "$build" -Dfuzz=enabled || exit 1
else
	meson configure "$build" -Dfuzz=enabled || exit 1
fi
ninja -C "$build" || exit 1

targets=()
if (($# > 0)); then
	targets=("$@")
else
	while IFS= read -r exe; do
		targets+=("$(basename "$exe")")
	done < <(find "$build/tests/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz_*' \
		! -name '*_replay' | LC_ALL=C sort)
fi
if ((${#targets[@]} == 0)); then
	echo "fuzz: no fuzz targets in $build/tests/fuzz (is libclang-rt-14-dev installed?)" >&2
	exit 1
fi

# The -max_len of a target: its row in tests/fuzz/meson.build's fuzz_targets.
max_len_of() {
	local n
	n=$(sed -n "s/^[[:space:]]*'$1': \\[.*, *\\([0-9][0-9]*\\)\\],.*/\\1/p" tests/fuzz/meson.build)
	echo "${n:-4096}"
}

failed=()
mkdir -p "$build/fuzz-artifacts"
for t in "${targets[@]}"; do
	exe=$build/tests/fuzz/$t
	src=tests/fuzz/corpus/$t
	work=$build/fuzz-work/$t
	if [[ ! -x $exe ]]; then
		echo "fuzz: $exe not built" >&2
		failed+=("$t (not built)")
		continue
	fi
	mkdir -p "$src" "$work"
	before=$(find "$src" -type f | wc -l)
	max_len=$(max_len_of "$t")

	echo "==== $t: ${time}s, -max_len=$max_len, corpus $src ===="
	# New inputs go to $work (the first dir); $src is only read here.
	if ! "$exe" -max_total_time="$time" -timeout=5 -rss_limit_mb=2048 -max_len="$max_len" \
		-error_exitcode=1 -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-artifacts/$t-" "$work" "$src"; then
		echo "fuzz: $t FAILED; artifacts in $build/fuzz-artifacts/" >&2
		failed+=("$t")
	fi

	# Keep only what adds coverage to the committed corpus.
	if ! "$exe" -merge=1 -max_len="$max_len" "$src" "$work" >"$build/fuzz-work/$t.merge.log" 2>&1; then
		echo "fuzz: $t: merge failed, see $build/fuzz-work/$t.merge.log" >&2
		failed+=("$t (merge)")
	fi
	after=$(find "$src" -type f | wc -l)
	echo "fuzz: $t: corpus $before -> $after files"
done

if ((${#failed[@]} > 0)); then
	echo "fuzz: failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: ${#targets[@]} target(s) ran ${time}s each; no crashes"
