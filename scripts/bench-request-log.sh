#!/usr/bin/env bash
# What the per-request log lines (target agora::request, one per request at
# info; docs/DEPLOY.md "Logs and metrics") cost: protocol round trips per
# second against two release daemons that differ only in the log filter,
# `info` (a JSON line per request, written to a file) and
# `info,agora::request=off`, measured in alternation ROUNDS times
# (default 3) so the machine's noise falls on both alike.
#
#   scripts/bench-request-log.sh [SECONDS] [ROUNDS]   (default 5 s, 3 rounds)
#
# Prints a Markdown table for docs/BENCHMARKS.md and the ratio of the
# medians.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
bin="$CARGO_TARGET_DIR/release/agora"

tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
start() { # NAME FILTER: a daemon; its pid in pids
  "$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/$1" \
    --ready-file "$tmp/$1.json" --log-format json --log-level "$2" >/dev/null 2>"$tmp/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$1.json" ] && break; sleep 0.1; done
}
listen() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/$1.json"; }
start on info
start off 'info,agora::request=off'
on=$(listen on)
off=$(listen off)

rate() {
  "$bin" --addr "$1" --json bench ping --connections 32 --pipeline 16 --duration "$secs" |
    python3 -c 'import json,sys; print(round(json.load(sys.stdin)["requests_per_sec"]))'
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ), bench ping 32 connections x 16 pipelined, ${secs}s per run, alternating"
echo
echo "| round | lines on (req/s) | lines off (req/s) |"
echo "|---:|---:|---:|"
ons=(); offs=()
for r in $(seq "$rounds"); do
  a=$(rate "$on"); b=$(rate "$off")
  ons+=("$a"); offs+=("$b")
  echo "| $r | $a | $b |"
done
lines=$(grep -c '"target":"agora::request"' "$tmp/on.log" || true)
python3 - "${ons[*]}" "${offs[*]}" "$lines" <<'PY'
import statistics, sys
on = [int(x) for x in sys.argv[1].split()]
off = [int(x) for x in sys.argv[2].split()]
m_on, m_off = statistics.median(on), statistics.median(off)
print()
print(f"median: lines on {m_on:,.0f} req/s, off {m_off:,.0f} req/s: on/off = {m_on / m_off:.2f}"
      f" ({sys.argv[3]} request lines written)")
PY
