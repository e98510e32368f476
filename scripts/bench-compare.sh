#!/usr/bin/env bash
# Two agora builds, A and B, on the same rows, alternating A B A B … in
# one run: request/reply round trips (`bench ping`) and chat fan-out
# (`bench chat fanout`), each against its own daemon started fresh. Prints
# the median of each and the median of the per-round ratios B/A, so a
# refactor can be checked for a regression on a noisy machine.
#
#   scripts/bench-compare.sh OLD_AGORA NEW_AGORA
#
# Environment:
#   BENCH_ROUNDS  alternating rounds (default 5)
#   BENCH_SECS    seconds per ping row (default 5)
#
# Example (the build before a change against the working tree):
#   git worktree add /tmp/agora-old HEAD~1
#   (cd /tmp/agora-old && CARGO_TARGET_DIR=/tmp/agora-old-target cargo build --release -p agora)
#   cargo build --release -p agora
#   scripts/bench-compare.sh /tmp/agora-old-target/release/agora target/release/agora
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 OLD_AGORA NEW_AGORA" >&2; exit 2; }
a=$1 b=$2
rounds=${BENCH_ROUNDS:-5}
secs=${BENCH_SECS:-5}
ulimit -n "$(ulimit -Hn)"

# run BIN ROW: prints one number (requests/s or deliveries/s).
run() {
  local bin=$1 row=$2 tmp daemon addr out
  tmp=$(mktemp -d)
  "$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
    --ready-file "$tmp/ready.json" --log-level warn --chat-rate 100000 --chat-burst 100000 &
  daemon=$!
  for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
  addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")
  case $row in
    ping1) out=$("$bin" --addr "$addr" --json bench ping --connections 1 --duration "$secs") ;;
    ping32) out=$("$bin" --addr "$addr" --json bench ping --connections 32 --duration "$secs") ;;
    ping32p16) out=$("$bin" --addr "$addr" --json bench ping --connections 32 --pipeline 16 --duration "$secs") ;;
    fanout) out=$("$bin" --addr "$addr" --json bench chat fanout --members 500 --senders 50 --rate 2000 --duration "$secs") ;;
  esac
  kill "$daemon"; wait "$daemon" 2>/dev/null || true
  rm -rf "$tmp"
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r.get("requests_per_sec", r.get("deliveries_per_sec")))' "$out"
}

echo "A: $a"
echo "B: $b"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rounds: $rounds alternating, ${secs}s per run"
echo
echo "| row | A median | B median | B/A median of rounds | B/A per round |"
echo "|---|---:|---:|---:|---|"
for row in ping1 ping32 ping32p16 fanout; do
  as=() bs=() ratios=()
  for i in $(seq "$rounds"); do
    if [ $((i % 2)) -eq 1 ]; then x=$(run "$a" $row); y=$(run "$b" $row); else y=$(run "$b" $row); x=$(run "$a" $row); fi
    as+=("$x"); bs+=("$y"); ratios+=("$(python3 -c "print(round($y/$x, 3))")")
  done
  python3 - "$row" "${as[*]}" "${bs[*]}" "${ratios[*]}" <<'EOF'
import statistics, sys
row, a, b, r = sys.argv[1], *[list(map(float, s.split())) for s in sys.argv[2:]]
print(f"| {row} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | {statistics.median(r):.3f} | {', '.join(f'{x:.2f}' for x in r)} |")
EOF
done
