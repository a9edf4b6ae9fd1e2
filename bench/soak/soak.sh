#!/usr/bin/env bash
# Soak and flood test of a running `vswitch run` (not a unit test; issue 15). Root only.
#
#   bench/soak/soak.sh [--duration SECONDS] [--out DIR] [--warmup SECONDS]
#
# For DURATION (default 1800 s) it drives mixed traffic through tap and veth (afpacket) ports of one bridge: pings
# between four hosts (two on taps moved into namespaces, two on veths), an iperf3 stream, a MAC flood (trafgen, random
# source MACs) on a fifth port in windows of 15 s every 60 s, malformed/random frames from a sixth, port flaps of a
# seventh (veth) and eighth (tap) every 7 s, and a configuration change every 5 s (set-port, add-port/del-port of a tap,
# fdb/flush, refused changes, an oversized action list, garbage and stalled control clients). Every 10 s it records the
# daemon's RSS, open fds, threads and datapath flow count (DIR/samples.csv).
#
# It fails (exit 1) when, after the warm-up (default 300 s, or a third of a shorter run), RSS or fds keep growing (mean
# RSS of the last third of the samples more than 10 % + 16 MiB above the first third's; max fds of the last third more
# than 16 above the first third's), when any ping between the four legitimate hosts is lost (none of them floods or
# flaps), or when the daemon restarted or stopped answering. Everything it creates is named vsw<id>* and removed on exit.
set -uo pipefail

DURATION=1800
OUT=""
WARMUP=""
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        *) echo "usage: $0 [--duration SECONDS] [--out DIR] [--warmup SECONDS]" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "soak: must run as root" >&2; exit 2; }
for tool in ip ethtool trafgen iperf3 ping python3 dotnet; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is required" >&2; exit 2; }
done
set -m   # every background job in its own process group: cleanup ends each group (trafgen forks workers)
if [ -z "$WARMUP" ]; then WARMUP=300; [ "$DURATION" -lt 900 ] && WARMUP=$((DURATION / 3)); fi

REPO=$(cd "$(dirname "$0")/../.." && pwd)
DLL="$REPO/src/Vswitch.Cli/bin/Release/net10.0/vswitch.dll"
[ -f "$DLL" ] || dotnet build "$REPO/src/Vswitch.Cli" -c Release -nologo -v q >/dev/null || { echo "soak: build failed" >&2; exit 2; }

ID=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
P="vsw$ID"                      # every name starts with this
WORK=$(mktemp -d "/tmp/${P}soak.XXXX")
OUT=${OUT:-$WORK/out}
mkdir -p "$OUT"
CTL="$WORK/ctl"
# Run from a private copy of the build, so a rebuild during the soak cannot change the running daemon's files.
cp -r "$(dirname "$DLL")" "$WORK/bin"
DLL="$WORK/bin/vswitch.dll"
BR="${P}br"
PIDS=()
SWITCH_PID=""

log() { echo "$(date +%H:%M:%S) $*"; }
vs() { dotnet "$DLL" "$@" --control "$CTL"; }

cleanup() {
    set +e
    disown -a 2>/dev/null   # no job-control notices for the groups ended below
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; done
    sleep 1
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
    [ -n "$SWITCH_PID" ] && kill "$SWITCH_PID" 2>/dev/null && wait "$SWITCH_PID" 2>/dev/null
    for ns in $(ip netns list | awk '{print $1}' | grep "^$P"); do ip netns del "$ns"; done
    for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^$P"); do ip link del "$l" 2>/dev/null; done
    rm -rf "$WORK/state" "$CTL" "$WORK/bin"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the switch ----
dotnet "$DLL" run --state-dir "$WORK/state" --control "$CTL" >"$OUT/vswitch.log" 2>&1 &
SWITCH_PID=$!
for _ in $(seq 1 200); do vs appctl version >/dev/null 2>&1 && break; sleep 0.1; done
vs appctl version >/dev/null || { echo "soak: vswitch run did not come up" >&2; exit 1; }
vs ctl add-br "$BR" >/dev/null

# ---- hosts: N (namespace ${P}N), address 10.77.0.N ----
veth_host() {   # N: namespace N behind a veth whose host end ${P}vN is an afpacket port
    local n=$1 ns="${P}$1"
    ip netns add "$ns"
    ip link add "${P}v$n" type veth peer name "${P}p$n"
    ip link set "${P}p$n" netns "$ns"
    ip -n "$ns" link set "${P}p$n" name eth0
    ip -n "$ns" addr add "10.77.0.$n/24" dev eth0
    # An afpacket port has no segmentation offload: no 64 KiB super-frames from the namespace (docs/ports/afpacket.md).
    ip netns exec "$ns" ethtool -K eth0 tso off gso off >/dev/null 2>&1
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip link set "${P}v$n" up
    vs ctl add-port "$BR" "${P}v$n" >/dev/null
}
tap_host() {    # N: namespace N holding the tap ${P}tN the switch created (port tN)
    local n=$1 ns="${P}$1"
    ip netns add "$ns"
    vs ctl add-port "$BR" "t$n" type=tap "iface=${P}t$n" >/dev/null
    ip link set "${P}t$n" netns "$ns"
    ip -n "$ns" addr add "10.77.0.$n/24" dev "${P}t$n"
    ip -n "$ns" link set "${P}t$n" up
    ip -n "$ns" link set lo up
}
veth_host 1; veth_host 2; tap_host 3; tap_host 4      # legitimate traffic
veth_host 5                                            # MAC flood
veth_host 6                                            # malformed frames
veth_host 7; tap_host 8                                # flapping ports
vs ctl add-port "$BR" spare type=tap "iface=${P}s1" >/dev/null   # reconfigured every few seconds

for n in 1 2 3 4 7 8; do ip netns exec "${P}$n" ping -c 1 -W 2 10.77.0.$(( n == 1 ? 2 : 1 )) >/dev/null 2>&1; done
log "topology up: bridge $BR, switch pid $SWITCH_PID, output in $OUT"

# ---- traffic ----
PING_PAIRS="1:3 3:1 2:4 4:2 1:2 3:4"
for pair in $PING_PAIRS; do
    a=${pair%:*}; b=${pair#*:}
    ip netns exec "${P}$a" ping -i 0.5 -W 3 -w "$DURATION" "10.77.0.$b" >"$OUT/ping-$a-$b.txt" 2>&1 &
    PIDS+=($!)
done
ip netns exec "${P}4" iperf3 -s -1 >/dev/null 2>&1 &
PIDS+=($!)
sleep 1
ip netns exec "${P}2" iperf3 -c 10.77.0.4 -b 20M -t "$DURATION" -i 60 >"$OUT/iperf3.txt" 2>&1 &
PIDS+=($!)

cat >"$WORK/flood.cfg" <<'CFG'
{ 0x02, 0x00, 0x00, 0x00, 0x00, 0x99, 0x02, drnd(5), c16(0x88b5), fill(0x41, 46) }
CFG
cat >"$WORK/garbage.cfg" <<'CFG'
{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, drnd(5), drnd(2), drnd(50) }
{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, drnd(5), c16(0x0800), 0x4f, drnd(30) }
{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, drnd(5), c16(0x8100), drnd(2), c16(0x86dd), drnd(44) }
{ 0x01, 0x80, 0xc2, 0x00, 0x00, 0x00, 0x02, drnd(5), c16(0x0026), drnd(38) }
CFG
# Malformed and random frames, continuously at a modest rate.
ip netns exec "${P}6" trafgen -o eth0 -i "$WORK/garbage.cfg" --cpus 1 -t 2ms -q >/dev/null 2>&1 &
PIDS+=($!)

# MAC flood in windows: 15 s on, 45 s off.
(
    while true; do
        sleep 45
        timeout 15 ip netns exec "${P}5" trafgen -o eth0 -i "$WORK/flood.cfg" --cpus 1 -t 10us -q >/dev/null 2>&1
    done
) &
PIDS+=($!)

# Port flaps every 7 s: the veth host end of 7 (the switch's side) and the tap of 8 inside its namespace.
(
    while true; do
        sleep 7
        ip link set "${P}v7" down; ip -n "${P}8" link set "${P}t8" down
        sleep 1
        ip link set "${P}v7" up; ip -n "${P}8" link set "${P}t8" up
    done
) &
PIDS+=($!)

# Configuration changes every 5 s, accepted and refused ones, and hostile control clients.
HUGE=$(python3 -c 'print(",".join(["1"] * 50000))')
(
    i=0
    while true; do
        sleep 5
        case $((i % 8)) in
            0) vs ctl set-port "$BR" spare "tag=$((RANDOM % 4094 + 1))" ;;
            1) vs ctl add-port "$BR" spare2 type=tap "iface=${P}s2" ;;
            2) vs ctl set-port "$BR" spare type=bogus ;;                       # refused
            3) vs ctl del-port "$BR" spare2 ;;
            4) vs appctl fdb/flush "$BR" ;;
            5) vs dpctl add-flow "$BR" "in_port(1),eth_type(0x0800),ipv4(frag=no)" "$HUGE" ;;   # refused: too large
            6) python3 - "$CTL" <<'PY'
import socket, sys
for payload in (b'{"command":"\xc3\x28"}\n', b'\x00\xff' * 100 + b'\n', b'[' * 5000 + b'\n'):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(payload); s.recv(4096); s.close()
stalled = []
for _ in range(20):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.send(b'{"comm'); stalled.append(s)
PY
            ;;
            7) vs ctl set-port "$BR" spare "tag=" ;;
        esac >/dev/null 2>&1
        i=$((i + 1))
    done
) &
PIDS+=($!)

# ---- sampling ----
echo "seconds,rss_kib,fds,threads,flows" >"$OUT/samples.csv"
start=$(date +%s)
restarted=0
while true; do
    now=$(date +%s); t=$((now - start))
    if ! kill -0 "$SWITCH_PID" 2>/dev/null; then restarted=1; log "the switch process is gone"; break; fi
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SWITCH_PID/status")
    threads=$(awk '/^Threads:/ {print $2}' "/proc/$SWITCH_PID/status")
    fds=$(ls "/proc/$SWITCH_PID/fd" | wc -l)
    flows=$(vs dpctl show "$BR" 2>/dev/null | awk '/flows:/ {print $2}')
    echo "$t,$rss,$fds,$threads,${flows:-?}" >>"$OUT/samples.csv"
    log "t=${t}s rss=${rss}KiB fds=$fds threads=$threads flows=${flows:-?}"
    [ "$t" -ge "$DURATION" ] && break
    sleep 10
done

# ---- verdict ----
sleep 4   # the pings end at DURATION and print their statistics
vs appctl bridge/counters "$BR" >"$OUT/counters.txt" 2>&1 || restarted=1
vs dpctl show -s "$BR" >"$OUT/dpctl-show.txt" 2>&1
fail=0
[ "$restarted" = 1 ] && { log "FAIL: the daemon stopped or restarted"; fail=1; }
for pair in $PING_PAIRS; do
    a=${pair%:*}; b=${pair#*:}
    stats=$(grep -E 'packets transmitted' "$OUT/ping-$a-$b.txt")
    tx=$(echo "$stats" | awk '{print $1}'); rx=$(echo "$stats" | awk '{print $4}')
    log "ping $a -> $b: ${tx:-?} sent, ${rx:-?} received"
    if [ -z "$tx" ] || [ "$tx" != "$rx" ]; then log "FAIL: pings lost between $a and $b"; fail=1; fi
done
python3 - "$OUT/samples.csv" "$WARMUP" >"$OUT/verdict.txt" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["rss_kib"]]
warm = [r for r in rows if int(r["seconds"]) >= int(sys.argv[2])]
if len(warm) < 6:
    print(f"too few samples after the warm-up ({len(warm)}): no growth verdict"); sys.exit(0)
third = len(warm) // 3
first, last = warm[:third], warm[-third:]
mean = lambda rs, k: sum(int(r[k]) for r in rs) / len(rs)
rss0, rss1 = mean(first, "rss_kib"), mean(last, "rss_kib")
fd0, fd1 = max(int(r["fds"]) for r in first), max(int(r["fds"]) for r in last)
ok = rss1 <= rss0 * 1.10 + 16 * 1024 and fd1 <= fd0 + 16
print(f"rss first third {rss0/1024:.1f} MiB, last third {rss1/1024:.1f} MiB; fds max {fd0} -> {fd1}; "
      f"threads {rows[-1]['threads']}; samples {len(rows)}: {'OK' if ok else 'FAIL: growing'}")
sys.exit(0 if ok else 1)
PY
[ $? = 0 ] || fail=1
grep -E 'receiver' "$OUT/iperf3.txt" | tail -1 | sed 's/^/iperf3 2 -> 4: /' >>"$OUT/verdict.txt"
cat "$OUT/verdict.txt"
cat "$OUT/counters.txt"
log "$([ $fail = 0 ] && echo PASS || echo FAIL): samples in $OUT/samples.csv"
exit $fail
