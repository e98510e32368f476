#!/usr/bin/env bash
# Chat benchmarks against a release build of the real daemon:
#   (a) 10,000 idle signed-in clients: daemon RSS
#   (b) one room, 1,000 members, 100 senders at 1,000 msg/s in total:
#       delivery latency p50/p99 and deliveries per second; then the same
#       room at higher rates to find the most deliveries per second
#   (c) persisted (acknowledged) messages per second
#   (d) 2,000 clients join one room, one after another, all reading their
#       pushes: time to fill it, pushes received, daemon RSS
#
#   scripts/bench-chat.sh [SECONDS]      (default 10 s per fan-out run)
#   BENCH_CHAT_ROWS=d scripts/bench-chat.sh    (only some of the rows)
#   BENCH_CHAT_DAEMON_ARGS='--chat-presence-threshold 10000' …  (extra daemon
#       flags; that one turns presence coalescing off, for a before/after)
#
# Daemon and load generator share this machine's cores. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rows=${BENCH_CHAT_ROWS:-abcd}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
bin="$CARGO_TARGET_DIR/release/agora"
# 10,000 clients need 10,000 descriptors in each process (the daemon and
# the generator): raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt 10100 ] || { echo "bench-chat: need more than 10,100 open files (ulimit -Hn is $(ulimit -Hn))" >&2; exit 1; }

read -r -a extra <<< "${BENCH_CHAT_DAEMON_ARGS:-}"
tmp=$(mktemp -d)
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn \
  --chat-rate 100000 --chat-burst 100000 "${extra[@]}" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$tmp/ready.json")
field() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(" | ".join(str(r[k]) for k in sys.argv[1:]))' "$@"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); daemon and load generator on the same machine"
if [[ $rows == *a* ]]; then
echo
echo "(a) idle clients"
echo
echo "| clients | users | daemon RSS before KiB | with clients KiB | bytes per client |"
echo "|---:|---:|---:|---:|---:|"
"$bin" --addr "$addr" --json bench chat idle --clients 10000 --users 100 --pid "$daemon" |
  field clients users rss_before_kib rss_after_kib bytes_per_client | sed 's/^/| /; s/$/ |/'
fi

if [[ $rows == *b* ]]; then
echo
echo "(b) fan-out: one room, 1,000 members, 100 senders, ${secs}s per row"
echo
echo "| msg/s in | sent | deliveries | deliveries/s | p50 ms | p99 ms | max ms |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for rate in 1000 2000 4000; do
  "$bin" --addr "$addr" --json bench chat fanout --members 1000 --senders 100 --rate "$rate" --duration "$secs" |
    field target_rate sent deliveries deliveries_per_sec p50_ms p99_ms max_ms | sed 's/^/| /; s/$/ |/'
done
fi

if [[ $rows == *c* ]]; then
echo
echo "(c) persisted messages"
echo
echo "| senders | in flight each | stored | stored/s |"
echo "|---:|---:|---:|---:|"
"$bin" --addr "$addr" --json bench chat persist --senders 32 --pipeline 16 --duration 5 |
  field senders pipeline stored stored_per_sec | sed 's/^/| /; s/$/ |/'
fi

if [[ $rows == *d* ]]; then
echo
echo "(d) 2,000 clients join one room (one after another)"
echo
echo "| clients | fill s | last push s | pushes | push MiB | pushes per join | join replies MiB | daemon RSS before KiB | after KiB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# Last: when its clients disconnect, a room this size announces every one
# of them (unless presence is coalesced), which would disturb a later row.
"$bin" --addr "$addr" --json bench chat join --clients 2000 --pid "$daemon" |
  python3 -c 'import json,sys; r=json.load(sys.stdin); r["push_mib"]="%.1f" % (r["push_bytes"]/1048576); r["reply_mib"]="%.1f" % (r["reply_bytes"]/1048576); r["fill_secs"]="%.2f" % r["fill_secs"]; r["settle_secs"]="%.2f" % r["settle_secs"]; r["pushes_per_join"]="%.1f" % r["pushes_per_join"]; print("| " + " | ".join(str(r[k]) for k in ["clients","fill_secs","settle_secs","pushes","push_mib","pushes_per_join","reply_mib","rss_before_kib","rss_after_kib"]) + " |")'
fi
