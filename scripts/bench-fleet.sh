#!/usr/bin/env bash
# Fleet benchmarks (issue 18, docs/FLEET.md) against a release build:
# daemons on one PostgreSQL (PostgreSQL's defaults: fsync on) compared
# with one daemon on SQLite, in one run, the configurations alternated
# round by round.
#   (a) persisted (acknowledged) chat messages per second: SQLite, one
#       node on PostgreSQL, three nodes on PostgreSQL (one load per node
#       at once, summed)
#   (b) chat delivery latency: one room, senders on node A; the members
#       receive on A (one node) or on B and C (across nodes, through
#       LISTEN/NOTIFY); SQLite for reference
#   (e) the same at a moderate load (100 members, 10 senders, 200 msg/s:
#       20,000 deliveries/s instead of (b)'s 300,000), where the cores are
#       not saturated: the fleet path's own latency
#   (c) durable jobs per second end to end (enqueue 20,000 `noop` jobs in
#       batches of 1,000 on one node, run by the daemons' built-in
#       runners): SQLite, one node on PostgreSQL, three nodes on it (the
#       bench waits on the first node's counts, which follow the others'
#       completions through the fleet's notifications)
#   (d) blog list requests per second: 2,000 articles seeded through the
#       API, then wrk on GET /api/articles?limit=20 — anonymous (served
#       from the node's response cache on SQLite; on PostgreSQL see
#       docs/FLEET.md) and signed in (never cached: per viewer) — against
#       one node, or one wrk per node at once on three nodes (summed).
#       Installs wrk when missing. Single-node detail: scripts/bench-blog.sh.
#
#   scripts/bench-fleet.sh [SECONDS]        (default 5 s per measurement)
#   BENCH_FLEET_ROUNDS=3 BENCH_FLEET_ROWS=abcde scripts/bench-fleet.sh
#
# Everything (PostgreSQL, the daemons, the load) shares this machine's
# cores. Installs PostgreSQL (scripts/pg.sh) when missing. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${BENCH_FLEET_ROUNDS:-2}
rows=${BENCH_FLEET_ROWS:-abcde}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
cargo build --release -p agora --locked -q
bin="$CARGO_TARGET_DIR/release/agora"
ulimit -n "$(ulimit -Hn)"
export AGORA_JWT_SECRET=bench-fleet-key-0123456789abcdef0123456789

tmp=$(mktemp -d)
server=$(PG_DURABLE=1 scripts/pg.sh start | tail -1)
pids=()
stop_nodes() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
cleanup() { stop_nodes; scripts/pg.sh stop "$server" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT

n=0
# start_node [DATABASE-URL]: starts a daemon (on its own SQLite file
# without a URL) and sets $addr to its protocol address. (Not in a $(…):
# the daemon's pid must reach this shell's list.)
start_node() {
  n=$((n + 1))
  local dir="$tmp/node$n" db=()
  [[ -n ${1:-} ]] && db=(--database "$1")
  "$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 \
    --data "$dir" --ready-file "$dir.ready" --log-level error \
    --chat-rate 1000000 --chat-burst 1000000 \
    --blog-read-rate 1000000000 --blog-read-burst 1000000000 \
    --blog-write-rate 1000000000 --blog-write-burst 1000000000 \
    --blog-login-rate 1000000000 --blog-login-burst 1000000000 "${db[@]}" &
  pids+=($!)
  local _
  for _ in $(seq 200); do [[ -s $dir.ready ]] && break; sleep 0.05; done
  [[ -s $dir.ready ]] || { echo "bench-fleet: a daemon did not start" >&2; exit 1; }
  addr=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["listen"])' "$dir.ready")
  http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$dir.ready")
}
# fresh_db: sets $url to a new, empty database on the server.
fresh_db() { n=$((n + 1)); url=$(scripts/pg.sh createdb "$server" "bench_fleet_$n"); }
field() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(" | ".join(str(r[k]) for k in sys.argv[1:]))' "$@"; }
sum_stored() { python3 -c 'import json,sys; print(round(sum(json.load(open(f))["stored_per_sec"] for f in sys.argv[1:])))' "$@"; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); PostgreSQL $("$(ls -d /usr/lib/postgresql/*/bin | tail -1)/postgres" --version | awk '{print $3}') (fsync on), daemons and load on the same machine"

persist() { # ADDR…: one persist load per address at once; prints the sum of stored/s
  local addr out=() files=()
  for addr in "$@"; do
    "$bin" --addr "$addr" --json bench chat persist --senders 16 --pipeline 16 --duration "$secs" >"$tmp/p.$addr" &
    out+=($!)
    files+=("$tmp/p.$addr")
  done
  wait "${out[@]}"
  sum_stored "${files[@]}"
}

if [[ $rows == *a* ]]; then
  echo
  echo "(a) persisted chat messages per second (16 senders × 16 in flight per node, ${secs}s)"
  echo
  echo "| round | SQLite, 1 node | PostgreSQL, 1 node | PostgreSQL, 3 nodes (sum) |"
  echo "|---:|---:|---:|---:|"
  for round in $(seq "$rounds"); do
    start_node; s=$(persist "$addr"); stop_nodes
    fresh_db; start_node "$url"; p1=$(persist "$addr"); stop_nodes
    fresh_db; start_node "$url"; a=$addr; start_node "$url"; b=$addr; start_node "$url"
    p3=$(persist "$a" "$b" "$addr"); stop_nodes
    echo "| $round | $s | $p1 | $p3 |"
  done
fi

latency_rows() { # MEMBERS SENDERS RATE
  echo "| round | setup | deliveries/s | p50 ms | p99 ms | max ms |"
  echo "|---:|---|---:|---:|---:|---:|"
  fan() { "$bin" --addr "$1" --json bench chat fanout --members "$m" --senders "$s" --rate "$r" --duration "$secs" "${@:2}"; }
  local m=$1 s=$2 r=$3
  for round in $(seq "$rounds"); do
    start_node
    echo "| $round | SQLite, 1 node | $(fan "$addr" | field deliveries_per_sec p50_ms p99_ms max_ms) |"
    stop_nodes
    fresh_db; start_node "$url"
    echo "| $round | PostgreSQL, 1 node | $(fan "$addr" | field deliveries_per_sec p50_ms p99_ms max_ms) |"
    stop_nodes
    fresh_db; start_node "$url"; a=$addr; start_node "$url"; b=$addr; start_node "$url"
    echo "| $round | PostgreSQL, sent on A, received on B and C | $(fan "$a" --receive-addr "$b,$addr" | field deliveries_per_sec p50_ms p99_ms max_ms) |"
    stop_nodes
  done
}

if [[ $rows == *b* ]]; then
  echo
  echo "(b) delivery latency: one room, 300 members, 30 senders on node A, 1,000 msg/s, ${secs}s"
  echo
  latency_rows 300 30 1000
fi

if [[ $rows == *e* ]]; then
  echo
  echo "(e) delivery latency at a moderate load: one room, 100 members, 10 senders on node A, 200 msg/s, ${secs}s"
  echo
  latency_rows 100 10 200
fi

if [[ $rows == *c* ]]; then
  echo
  echo "(c) durable jobs: 20,000 noop jobs, batches of 1,000, 4 connections × 4 in flight"
  echo
  echo "| round | setup | enqueued/s | completed/s end to end | wait p50 ms | p99 ms |"
  echo "|---:|---|---:|---:|---:|---:|"
  jobs_row() {
    "$bin" --addr "$addr" --json bench jobs --jobs 20000 --batch 1000 --connections 4 --pipeline 4 |
      field enqueued_per_sec completed_per_sec wait_p50_ms wait_p99_ms
  }
  for round in $(seq "$rounds"); do
    start_node
    echo "| $round | SQLite, 1 node | $(jobs_row) |"
    stop_nodes
    fresh_db; start_node "$url"
    echo "| $round | PostgreSQL, 1 node | $(jobs_row) |"
    stop_nodes
    # Enqueued on A; every node's built-in runner claims them; A's counts
    # follow the others' completions through the fleet's notifications.
    fresh_db; start_node "$url"; a=$addr; start_node "$url"; start_node "$url"; addr=$a
    echo "| $round | PostgreSQL, 3 nodes | $(jobs_row) |"
    stop_nodes
  done
fi

if [[ $rows == *d* ]]; then
  if ! command -v wrk >/dev/null 2>&1; then
    echo "installing wrk" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
  fi
  echo
  echo "(d) blog: GET /api/articles?limit=20 over 2,000 articles, 32 connections per node, ${secs}s"
  echo
  echo "| round | setup | anonymous req/s | signed-in req/s | signed-in p99 ms |"
  echo "|---:|---|---:|---:|---:|"
  # seed HTTP: a user and 2,000 articles through the API; prints the token.
  seed() {
    python3 - "$1" <<'EOF'
import http.client, json, sys
conn = http.client.HTTPConnection(sys.argv[1])
def call(method, path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Token " + token
    conn.request(method, path, json.dumps(body), headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit(f"{method} {path}: {r.status} {data[:200]!r}")
    return json.loads(data)
tok = call("POST", "/api/users", {"user": {"username": "bench", "email": "bench@example.com",
                                           "password": "bench-password"}})["user"]["token"]
for i in range(1, 2001):
    call("POST", "/api/articles", {"article": {"title": f"Bench article {i}",
        "description": f"Article {i}", "body": "Lorem ipsum dolor sit amet. " * 20,
        "tagList": [f"tag{i % 50}", f"topic{i % 7}"]}}, tok)
print(tok)
EOF
  }
  # list TOKEN HTTP…: one wrk per address at once; prints summed req/s and
  # the worst p99 ms (TOKEN "-" for anonymous).
  list() {
    local token=$1 h i=0 hdr=() w=()
    shift
    [[ $token != - ]] && hdr=(-H "Authorization: Token $token")
    for h in "$@"; do
      i=$((i + 1))
      wrk -t 1 -c 32 -d "${secs}s" --latency "${hdr[@]}" "http://$h/api/articles?limit=20" >"$tmp/wrk.$i" &
      w+=($!)
    done
    wait "${w[@]}"
    python3 - "$tmp"/wrk.* <<'EOF'
import re, sys
rps, p99 = 0.0, 0.0
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
for path in sys.argv[1:]:
    text = open(path).read()
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if bad:
        sys.exit(f"bench-fleet: {bad.group(1)} failed requests in {path}")
    rps += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p99 = max(p99, ms(m.group(1), m.group(2)))
print(f"{rps:.0f} {p99:.1f}")
EOF
    rm -f "$tmp"/wrk.*
  }
  blog_row() { # SETUP HTTP…
    local setup=$1 token anon signed
    shift
    token=$(seed "$1")
    anon=$(list - "$@" | cut -d' ' -f1)
    signed=$(list "$token" "$@")
    echo "| $round | $setup | $anon | ${signed% *} | ${signed#* } |"
  }
  for round in $(seq "$rounds"); do
    start_node; blog_row "SQLite, 1 node" "$http"; stop_nodes
    fresh_db; start_node "$url"; blog_row "PostgreSQL, 1 node" "$http"; stop_nodes
    fresh_db; start_node "$url"; h1=$http; start_node "$url"; h2=$http; start_node "$url"
    blog_row "PostgreSQL, 3 nodes (sum)" "$h1" "$h2" "$http"; stop_nodes
  done
fi
