#!/usr/bin/env bash
# Request/reply round trips per second over loopback, against a release
# build of the real daemon, with N concurrent connections.
#
#   scripts/bench-ping.sh [SECONDS]       (default 10 s per row)
#
# Prints a Markdown table for docs/BENCHMARKS.md. The daemon and the load
# generator share this machine's cores, as they would on a laptop; the
# numbers are therefore a floor for a daemon with the machine to itself.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
bin="$CARGO_TARGET_DIR/release/agora"

tmp=$(mktemp -d)
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")

row_py='
import json, sys
r = json.load(sys.stdin)
print("| %d | %d | %s | %d | %d | %d |" % (r["connections"], r["pipeline"],
      format(round(r["requests_per_sec"]), ","), r["p50_us"], r["p99_us"], r["p999_us"]))'

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), ${secs}s per row, daemon and client on the same machine"
echo
echo "| connections | pipeline | requests/s | p50 µs | p99 µs | p99.9 µs |"
echo "|---:|---:|---:|---:|---:|---:|"
for row in "1 1" "32 1" "32 16" "128 1"; do
  read -r conns depth <<<"$row"
  "$bin" --addr "$addr" --json bench ping --connections "$conns" --pipeline "$depth" --duration "$secs" |
    python3 -c "$row_py"
done
