#!/usr/bin/env bash
# Multi-tenant blog benchmark (docs/BLOG.md, "Organizations"; figures in
# docs/BENCHMARKS.md) with wrk (Debian's, installed when missing) against
# a release build of the real daemon on a fresh data directory:
#   seed    ORGS organizations (default 1,000), each with ARTICLES articles
#           (default 100), all through the API itself: POST /api/orgs,
#           then POST /t/ORG/api/articles from 16 client threads, each on
#           its own keep-alive connection and one organization at a time
#           (no file is written around the daemon)
#   single  GET /api/articles?limit=20 on one organization (Host: o1.<base>)
#   spread  the same request, each one for an organization picked
#           uniformly at random by its Host header (a wrk Lua script)
# single and spread alternate for ROUNDS rounds (default 3) at 64
# connections, so a change in the machine's load hits both alike; the
# ratio is spread/single of the summed requests. During each spread run
# the daemon's open file descriptors (/proc/PID/fd) are sampled every
# 0.2 s (the maximum is printed) and its RSS is read at the end.
# Goals (issue 15): spread >= 0.8x single, spread p99 < 15 ms.
#
#   scripts/bench-tenancy.sh [SECONDS]   (default 10 s per run)
#   AGORA_BIN=path/to/release/agora scripts/bench-tenancy.sh   (no build)
#   BENCH_TENANCY_ORGS=100 BENCH_TENANCY_ARTICLES=20 …   (a short version)
#   BENCH_TENANCY_ROUNDS=3 BENCH_TENANCY_THREADS=2 …      (wrk threads)
#   BENCH_TENANCY_HANDLES=N …   (--blog-tenant-handles; daemon default 256)
#   BENCH_TENANCY_CACHE=0 …     (--blog-cache: 0 turns the response cache
#                                off, so every spread request that misses
#                                the LRU opens a file: a miss's own cost)
#
# The rate limits are raised for the run (wrk is one client address).
# Daemon and wrk share this machine's cores. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
orgs=${BENCH_TENANCY_ORGS:-1000}
per=${BENCH_TENANCY_ARTICLES:-100}
rounds=${BENCH_TENANCY_ROUNDS:-3}
threads=${BENCH_TENANCY_THREADS:-2}
handles=${BENCH_TENANCY_HANDLES:-}
cache=${BENCH_TENANCY_CACHE:-}
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
if [ -n "${AGORA_BIN:-}" ]; then
  bin=$AGORA_BIN   # a binary already built (release, please)
else
  cargo build --release -p agora --locked -q
  bin="$CARGO_TARGET_DIR/release/agora"
fi
ulimit -n "$(ulimit -Hn)"

tmp=$(mktemp -d)
extra=()
[ -n "$handles" ] && extra+=(--blog-tenant-handles "$handles")
[ -n "$cache" ] && extra+=(--blog-cache "$cache")
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --resp 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn \
  --blog-read-rate 1000000000 --blog-read-burst 1000000000 \
  --blog-write-rate 1000000000 --blog-write-burst 1000000000 \
  --blog-login-rate 1000000000 --blog-login-burst 1000000000 "${extra[@]}" &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$tmp/ready.json")
base="http://$http"

# Seed through the API: one user owns every organization and writes
# their articles; 16 threads, a connection each.
seed_start=$(date +%s.%N)
python3 - "$http" "$orgs" "$per" <<'EOF'
import http.client, json, sys, threading
from concurrent.futures import ThreadPoolExecutor
addr, orgs, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
local = threading.local()
def call(method, path, body, token=None):
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = http.client.HTTPConnection(addr)
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
body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 10
def org(i):
    call("POST", "/api/orgs", {"org": {"slug": f"o{i}", "name": f"Org {i}"}}, tok)
def article(job):
    i, n = job
    call("POST", f"/t/o{i}/api/articles", {"article": {
        "title": f"Article {n}", "description": f"Number {n} of o{i}", "body": body,
        "tagList": [f"tag{n % 10}"]}}, tok)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(org, range(1, orgs + 1)))
    # Organization by organization (a chunk is one organization's
    # articles), so each writer finds its file open in the LRU.
    list(pool.map(article, ((i, n) for i in range(1, orgs + 1) for n in range(1, per + 1)),
                  chunksize=per))
EOF
seed_end=$(date +%s.%N)

cat >"$tmp/spread.lua" <<EOF
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
request = function()
  return wrk.format("GET", "/api/articles?limit=20",
    {["Host"] = "o" .. math.random(1, $orgs) .. ".blog.localhost"})
end
EOF

# One wrk run: appends "rps p50 p99 non2xx" to $tmp/NAME.runs and prints a
# Markdown row; during spread runs, the fd count is sampled.
run() {
  local name=$1 round=$2
  local args=(-t "$threads" -c 64 -d "${secs}s" --latency)
  if [ "$name" = spread ]; then
    args+=(-s "$tmp/spread.lua")
  else
    args+=(-H "Host: o1.blog.localhost")
  fi
  : >"$tmp/fds"
  (while kill -0 $daemon 2>/dev/null; do ls /proc/$daemon/fd | wc -l >>"$tmp/fds"; sleep 0.2; done) &
  local sampler=$!
  wrk "${args[@]}" "$base/api/articles?limit=20" >"$tmp/wrk.txt"
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null || true
  local fds rss
  fds=$(sort -n "$tmp/fds" | tail -1)
  rss=$(awk '/VmRSS/ {print $2}' /proc/$daemon/status)
  python3 - "$name" "$round" "$tmp/wrk.txt" "$fds" "$rss" "$tmp/$name.runs" <<'EOF'
import re, sys
name, rnd, path, fds, rss, out = sys.argv[1:7]
text = open(path).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
pct = {m.group(1): ms(m.group(2), m.group(3))
       for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
bad = int(non2xx.group(1)) if non2xx else 0
open(out, "a").write(f"{rps} {pct['50']} {pct['99']} {bad}\n")
print(f"| {rnd} | {name} | {rps:,.0f} | {pct['50']:.2f} | {pct['99']:.2f} | {bad}"
      f"{' (' + errors.group(1) + ')' if errors else ''} | {fds} | {int(rss) / 1024:.0f} MiB |")
EOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg); daemon and wrk on the same machine; wrk $threads threads, 64 connections, ${secs}s per run; --blog-tenant-handles ${handles:-256 (default)}; --blog-cache ${cache:-4096 (default)}"
python3 -c "import sys; print(f'seed: {int(sys.argv[3]):,} organizations x {int(sys.argv[4])} articles through the API in {float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$seed_start" "$seed_end" "$orgs" "$per"
echo
echo "| round | run | req/s | p50 ms | p99 ms | non-2xx | max open fds | RSS after |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for r in $(seq "$rounds"); do
  run single "$r"
  run spread "$r"
done
echo
python3 - "$tmp/single.runs" "$tmp/spread.runs" <<'EOF'
import sys
def load(p):
    return [list(map(float, l.split())) for l in open(p)]
single, spread = load(sys.argv[1]), load(sys.argv[2])
s = sum(r[0] for r in single) / len(single)
t = sum(r[0] for r in spread) / len(spread)
p99 = max(r[2] for r in spread)
print(f"single: {s:,.0f} req/s; spread: {t:,.0f} req/s; ratio {t / s:.2f}x (goal >= 0.8x); "
      f"spread p99 worst {p99:.2f} ms (goal < 15 ms)")
EOF
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); tenant files: $(ls "$tmp/data/tenants" | grep -c '\.db$')"
