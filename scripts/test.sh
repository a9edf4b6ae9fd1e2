#!/usr/bin/env bash
# Runs the whole test suite (unit, conformance and, as root, system tests) and prints one closing
# line "N passed, N failed, N skipped". Exit status is non-zero when anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."

# Leftovers of earlier runs whose test process died: only what this suite recorded (and marked) when it created it,
# never anything else named vsw* (a user's lab, a running switch). docs/system-tests.md, "Hygiene".
./scripts/sweep-test-leftovers.sh

log=$(mktemp /tmp/vsw-test-XXXXXX.log)
trap 'rm -f "$log"' EXIT
dotnet build Vswitch.slnx -c Release -nologo -v q 2>&1 | tail -n 20
build=${PIPESTATUS[0]}
if [ "$build" != 0 ]; then
    echo "build failed"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
dotnet test Vswitch.slnx -c Release --no-build -nologo -m:1 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# What a test process of this run left behind (it crashed, or a cleanup failed) is removed now and listed.
./scripts/sweep-test-leftovers.sh
# Sum the per-assembly summaries: "Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total: ..."
read -r passed failed skipped < <(grep -E '^(Passed|Failed)!' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' \
    | awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
assemblies=$(grep -cE '^(Passed|Failed)!' "$log" || true)
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "test assemblies: $assemblies"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$rc"
