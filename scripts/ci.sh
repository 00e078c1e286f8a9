#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The build matrix behind `make check` and .ci/run:
#   build/       gcc, -Dwerror=true
#   build-asan/  clang, ASan + UBSan, -fno-sanitize-recover=undefined
# Each is set up once (when its directory has no build tree yet), built with
# ninja and tested with meson test. A failing configuration does not stop the
# next one. The last line printed is always "N passed, N failed, N skipped",
# summed over both builds; a failed setup or build counts as one failure.
set -u

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

NUM_PROCESSES=${NUM_PROCESSES:-2}
build_failures=0
notes=()	# "dir: what failed", for the summary
ran=()		# build dirs whose testlog.json is fresh

banner() {
	echo
	echo "==== $* ===="
}

# run_config DIR ENV... -- SETUP_ARGS... : set up, build and test one configuration.
run_config() {
	local dir=$1
	shift
	local envs=()
	while (($# > 0)) && [[ $1 != -- ]]; do
		envs+=("$1")
		shift
	done
	shift	# --
	local setup_args=("$@")

	banner "$dir: setup"
	if [[ ! -f $dir/meson-private/coredata.dat ]]; then
		if ! env "${envs[@]}" meson setup "$dir" "${setup_args[@]}"; then
			echo "ci: FAILED: meson setup $dir"
			notes+=("$dir: meson setup failed")
			build_failures=$((build_failures + 1))
			return
		fi
	else
		echo "ci: $dir already set up (ninja reconfigures it when meson files change)"
	fi

	banner "$dir: build"
	if ! env "${envs[@]}" ninja -C "$dir"; then
		echo "ci: FAILED: ninja -C $dir"
		notes+=("$dir: build failed")
		build_failures=$((build_failures + 1))
		return
	fi

	banner "$dir: test"
	rm -f "$dir/meson-logs/testlog.json"
	env "${envs[@]}" meson test -C "$dir" --print-errorlogs --num-processes "$NUM_PROCESSES"
	local rc=$?
	if [[ -f $dir/meson-logs/testlog.json ]]; then
		ran+=("$dir")
	elif ((rc != 0)); then
		echo "ci: FAILED: meson test -C $dir wrote no testlog.json (exit $rc)"
		notes+=("$dir: meson test failed to run (exit $rc)")
		build_failures=$((build_failures + 1))
	fi
}

run_config build CC=gcc -- -Dwerror=true

if command -v clang >/dev/null; then
	run_config build-asan CC=clang \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		-- -Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=undefined
else
	banner "build-asan: SKIPPED"
	echo "ci: !!! clang is not installed: the ASan/UBSan configuration did NOT run !!!"
	echo "ci: !!! run scripts/deps.sh (or apt-get install clang libclang-rt-14-dev)  !!!"
	notes+=("build-asan: not run, clang missing")
fi

banner "summary"
if ! command -v python3 >/dev/null; then
	echo "ci: python3 missing, cannot read testlog.json"
	echo "0 passed, $((build_failures + 1)) failed"
	exit 1
fi

python3 - "$build_failures" "${#notes[@]}" "${notes[@]}" "${ran[@]}" <<'PY'
import json
import re
import sys

build_failures = int(sys.argv[1])
nnotes = int(sys.argv[2])
notes = sys.argv[3:3 + nnotes]
dirs = sys.argv[3 + nnotes:]

PASS = {"OK", "EXPECTEDFAIL"}
FAIL = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"}
TAP_SKIP = re.compile(r"#\s*SKIP\b\s*(.*)", re.IGNORECASE)


def test_name(t):
    # meson names a test "vhu:interop / probe_dpdk"; show "interop/probe_dpdk".
    name = t.get("name", "?")
    if " / " in name:
        suite, test = name.split(" / ", 1)
        return f"{suite.split(':', 1)[-1]}/{test}"
    return name


def skip_reason(t):
    text = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
    for line in text.splitlines():
        if line.startswith("SKIP:"):
            return line[len("SKIP:"):].strip()
    for line in text.splitlines():
        m = TAP_SKIP.search(line)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return "no SKIP: line in its output"


total_pass = total_fail = total_skip = 0
for d in dirs:
    counts = {}
    skips, fails = [], []
    with open(f"{d}/meson-logs/testlog.json", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                t = json.loads(line)
            except json.JSONDecodeError:
                continue
            r = t.get("result", "ERROR")
            counts[r] = counts.get(r, 0) + 1
            if r == "SKIP":
                skips.append(f"SKIP: {test_name(t)} ({skip_reason(t)})")
            elif r in FAIL:
                fails.append(f"{r}: {test_name(t)}")
    p = sum(n for r, n in counts.items() if r in PASS)
    x = sum(n for r, n in counts.items() if r in FAIL)
    s = counts.get("SKIP", 0)
    total_pass += p
    total_fail += x
    total_skip += s
    print(f"{d}: {p} passed, {x} failed, {s} skipped")
    for line in fails + skips:
        print(f"  {line}")

for n in notes:
    print(f"!!! {n}")
total_fail += build_failures
print(f"{total_pass} passed, {total_fail} failed, {total_skip} skipped")
sys.exit(1 if total_fail else 0)
PY
