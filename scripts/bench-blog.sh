#!/usr/bin/env bash
# Blog API benchmark with wrk (Debian's, installed when missing) against a
# release build of the real daemon on a fresh data directory:
#   seed    10,000 articles (two tags each, 500 tags in all) posted through
#           the API itself (POST /api/articles on one keep-alive connection)
#   list    GET /api/articles?limit=20, anonymous (the front page)
#   one     GET /api/articles/{slug}, anonymous, a random slug of the 10,000
#           per request (more slugs than the read cache holds)
#   hot     GET /api/articles/{slug}, one slug (the cached case)
#   tagged  GET /api/articles?tag=T&limit=20, a random tag per request
#   post    POST /api/articles, signed in, a new title per request
#   ceiling GET /healthz: the HTTP listener alone (no blog code), the most
#           this machine serves at that moment; compare the rows with it
# Each GET row runs at 64 connections; POST at 8 (writes are serialized).
#
#   scripts/bench-blog.sh [SECONDS]   (default 10 s per row)
#   AGORA_BIN=path/to/release/agora scripts/bench-blog.sh   (no build)
#   BENCH_BLOG_THREADS=2 …             (wrk threads; default 2)
#
# The rate limits are raised for the run (wrk is one client address).
# Daemon and wrk share this machine's cores. Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
threads=${BENCH_BLOG_THREADS:-2}
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
"$bin" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn \
  --blog-read-rate 1000000000 --blog-read-burst 1000000000 \
  --blog-write-rate 1000000000 --blog-write-burst 1000000000 \
  --blog-login-rate 1000000000 --blog-login-burst 1000000000 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$tmp/ready.json")
base="http://$http"

# Seed through the API: a user, then 10,000 articles on one connection.
seed_start=$(date +%s.%N)
token=$(python3 - "$http" <<'EOF'
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
body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40
for i in range(1, 10001):
    call("POST", "/api/articles", {"article": {
        "title": f"Bench article {i}", "description": f"Article number {i}", "body": body,
        "tagList": [f"tag{i % 500}", f"topic{i % 7}"]}}, tok)
print(tok)
EOF
)
seed_end=$(date +%s.%N)

lua=$tmp/lua
mkdir -p "$lua"
cat >"$lua/one.lua" <<'EOF'
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
request = function()
  return wrk.format("GET", "/api/articles/bench-article-" .. math.random(1, 10000))
end
EOF
cat >"$lua/tagged.lua" <<'EOF'
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
request = function()
  return wrk.format("GET", "/api/articles?limit=20&tag=tag" .. math.random(0, 499))
end
EOF
cat >"$lua/post.lua" <<EOF
local n = 0
local me = tostring({}):sub(8)
request = function()
  n = n + 1
  local body = '{"article":{"title":"Posted ' .. me .. ' ' .. n .. '","description":"d","body":"b","tagList":["posted"]}}'
  return wrk.format("POST", "/api/articles",
    {["Content-Type"] = "application/json", ["Authorization"] = "Token $token"}, body)
end
EOF

# One wrk run: prints "| row | conns | req/s | p50 | p99 | non-2xx |".
run() {
  local name=$1 conns=$2 path=$3 script=${4:-}
  local args=(-t "$threads" -c "$conns" -d "${secs}s" --latency)
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$base$path" >"$tmp/wrk.txt"
  python3 - "$name" "$conns" "$tmp/wrk.txt" <<'EOF'
import re, sys
name, conns, path = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
pct = {m.group(1): ms(m.group(2), m.group(3))
       for m in re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = re.search(r"Socket errors: (.*)", text)
print(f"| {name} | {conns} | {rps:,.0f} | {pct['50']:.2f} | {pct['99']:.2f} | "
      f"{non2xx.group(1) if non2xx else 0}{' (' + errors.group(1) + ')' if errors else ''} |")
EOF
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); daemon and wrk on the same machine; wrk $threads threads, ${secs}s per row"
python3 -c "import sys; print(f'seed: 10,000 articles through POST /api/articles on one connection in {float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$seed_start" "$seed_end"
echo
echo "| row | connections | req/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
run "GET /healthz (ceiling: no blog code)" 64 "/healthz"
run "GET /api/articles?limit=20" 64 "/api/articles?limit=20"
run "GET /api/articles/{slug} (random of 10,000)" 64 "/api/articles" "$lua/one.lua"
run "GET /api/articles/{slug} (one slug)" 64 "/api/articles/bench-article-5000"
run "GET /api/articles?tag=T&limit=20 (random of 500)" 64 "/api/articles" "$lua/tagged.lua"
run "POST /api/articles" 8 "/api/articles" "$lua/post.lua"
echo
echo "daemon RSS after the run: $(awk '/VmRSS/ {print $2, $3}' /proc/$daemon/status)"
