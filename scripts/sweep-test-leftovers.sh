#!/usr/bin/env bash
# Removes what test runs of this repository left on the host after their test process died (a crash, a kill), and
# nothing else. A run is a directory RECORDS/<run>/ with
#   owner    "PID STARTTIME" of the test process (STARTTIME: field 22 of /proc/PID/stat)
#   objects  one line per object, written before the object was created:
#              netns NAME | link NAME | path PATH | process PID STARTTIME
# (tests/Shared/TestObjects.cs writes them; docs/system-tests.md, "Hygiene"). For every run whose owner is no longer
# running (no such PID, or another process under that PID), this kills its recorded processes (if still the same
# process), deletes its recorded namespaces, its recorded interfaces in this namespace whose alias is
# "vswitch-test:<run>" (or, when creation failed before the alias was set, that have no alias and carry the run's
# name prefix "vsw_<run>"), its recorded files under the run's name prefix, then the record. Runs that are alive,
# and every object that is not recorded, are never touched: a user's "vsw..." lab or a running switch survives.
# RECORDS: $VSWITCH_TEST_RECORDS, else /run/vswitch-tests as root, else /tmp/vswitch-tests-<uid>.
# Prints one line per removed object; exit status 0 unless the records cannot be read.
set -uo pipefail

uid=$(id -u)
root=${VSWITCH_TEST_RECORDS:-}
if [ -z "$root" ]; then
    if [ "$uid" = 0 ]; then root=/run/vswitch-tests; else root=/tmp/vswitch-tests-$uid; fi
fi
[ -d "$root" ] || exit 0

# start_time PID: the process's start time, or nothing when there is no such process.
start_time() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    # shellcheck disable=SC2086 # word splitting into fields is the point
    set -- $stat
    echo "${20}"
}

alive() { # PID STARTTIME
    [ -n "$1" ] && [ -n "$2" ] && [ "$(start_time "$1")" = "$2" ]
}

valid_name() { [[ $1 =~ ^[A-Za-z0-9_.:-]{1,64}$ ]]; }

sweep_run() { # DIR ID
    local dir=$1 id=$2 prefix="vsw_$2" alias="vswitch-test:$2" kind a b current removed=0
    [ -f "$dir/objects" ] || { rm -rf -- "$dir"; return; }
    # Processes first: a daemon's taps go with it.
    while read -r kind a b; do
        if [ "$kind" = process ] && [[ $a =~ ^[0-9]+$ ]] && alive "$a" "$b"; then
            kill -KILL "$a" 2>/dev/null && { echo "sweep: run $id: killed process $a"; removed=$((removed + 1)); }
        fi
    done <"$dir/objects"
    while read -r kind a b; do
        case $kind in
            netns)
                if valid_name "$a" && [ -e "/run/netns/$a" ]; then
                    ip netns del "$a" 2>/dev/null && { echo "sweep: run $id: deleted namespace $a"; removed=$((removed + 1)); }
                fi ;;
            link)
                if valid_name "$a" && [ -e "/sys/class/net/$a" ]; then
                    current=$(cat "/sys/class/net/$a/ifalias" 2>/dev/null || true)
                    if [ "$current" = "$alias" ] || { [ -z "$current" ] && [[ $a == "$prefix"* ]]; }; then
                        ip link del "$a" 2>/dev/null && { echo "sweep: run $id: deleted interface $a"; removed=$((removed + 1)); }
                    fi
                fi ;;
            path)
                if [[ $(basename -- "$a") == "$prefix"* ]] && [[ $a == /tmp/* || $a == /run/* ]] && [ -e "$a" ]; then
                    rm -rf -- "$a" && { echo "sweep: run $id: removed $a"; removed=$((removed + 1)); }
                fi ;;
        esac
    done <"$dir/objects"
    rm -rf -- "$dir"
    [ "$removed" = 0 ] || echo "sweep: run $id (a dead test process) had left $removed object(s)"
}

exec 9>"$root/.lock" || exit 1
flock 9
for dir in "$root"/* "$root"/.*.new; do
    [ -d "$dir" ] || continue
    name=$(basename -- "$dir")
    if [[ $name =~ ^\.([0-9a-f]{4})\.[0-9]+\.new$ ]]; then
        id=${BASH_REMATCH[1]}   # a run directory still being set up (or abandoned while it was)
    elif [[ $name =~ ^[0-9a-f]{4}$ ]]; then
        id=$name
    else
        continue                # not ours
    fi
    owner=$(cat "$dir/owner" 2>/dev/null || true)
    read -r pid start <<<"$owner"
    if [ -z "${pid:-}" ]; then
        continue                # no owner yet: being set up right now
    fi
    alive "$pid" "${start:-}" && continue
    sweep_run "$dir" "$id"
done
exit 0
