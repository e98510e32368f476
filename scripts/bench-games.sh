#!/usr/bin/env bash
# Games benchmark against a release build of the real daemon: N concurrent
# games (default 1,000: 2,000 bot users, 2,000 connections) played by bots.
# Two paces per game type: as fast as the daemon allows (think 0: each move
# sent the moment the opponent's arrives — saturation, where by Little's
# law the latency is N games / moves per second of queueing), and at a
# human blitz pace (THINK, default 1s on average before each move), the
# latency a player sees when the daemon keeps up. Reports moves per
# second, move → broadcast latency (a move sent to the opponent's
# game_moved push, one clock), finished games, and the daemon's CPU (share
# of one core) and resident memory.
#
#   scripts/bench-games.sh [SECONDS] [GAMES] [THINK]   (default 10 s, 1000 games, 1s)
#
# AGORA_BIN: use this binary instead of building the release one.
#
# Daemon and load generator share this machine's cores. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
games=${2:-1000}
think=${3:-1s}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
if [ -n "${AGORA_BIN:-}" ]; then
  bin=$AGORA_BIN
else
  cargo build --release -p agora --locked -q
  bin="$CARGO_TARGET_DIR/release/agora"
fi
# Two connections per game in each process.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt $((games * 2 + 100)) ] || { echo "bench-games: need more than $((games * 2 + 100)) open files" >&2; exit 1; }

tmp=$(mktemp -d)
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")
field() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(" | ".join(str(r[k]) for k in sys.argv[1:]))' "$@"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); daemon and load generator on the same machine"
echo
echo "| games | type | think ms | s | moves | moves/s | finished | p50 ms | p99 ms | max ms | daemon CPU % | daemon RSS KiB |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for kind in tictactoe connect4; do
  for pace in 0s "$think"; do
    "$bin" --addr "$addr" --json bench game --games "$games" --kind "$kind" --duration "$secs" \
      --think "$pace" --pid "$daemon" |
      field games kind think_ms seconds moves moves_per_sec finished p50_ms p99_ms max_ms cpu_percent rss_kib |
      sed 's/^/| /; s/$/ |/'
  done
done
