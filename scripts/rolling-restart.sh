#!/usr/bin/env bash
# The rolling-restart proof (issue 20, docs/DEPLOY.md "Rolling restarts"),
# longer than CI runs it: three daemons on one PostgreSQL, the cache
# cluster in proxy mode, HAProxy in front checking /readyz; blog reads and
# writes, chat sends, job enqueues and cache operations run through HAProxy
# while each node in turn is stopped with SIGTERM and replaced by a new
# binary. The test is tests/e2e/rolling/; this script runs it ROUNDS
# times over the three nodes and prints its report (requests, failures,
# the longest pause per load stream, acknowledged and lost writes).
#
#   scripts/rolling-restart.sh [ROUNDS]       default 3
#
# Environment: RELEASE=1 builds and runs the release profile (the figures
# in docs/BENCHMARKS.md); REPORT=FILE keeps the JSON report there.
# Installs what it needs: haproxy (Debian), PostgreSQL (scripts/pg.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "rolling-restart.sh: ROUNDS must be a positive number, not \"$rounds\"" >&2; exit 2; }

if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "rolling-restart.sh: haproxy is missing and only root can install it" >&2; exit 1; }
  echo "installing haproxy" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq haproxy >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq haproxy >/dev/null; }
fi
# Debian starts the packaged service; the test runs its own HAProxy.
systemctl disable --now haproxy >/dev/null 2>&1 || true

profile=()
[[ "${RELEASE:-0}" == 1 ]] && profile=(--release)
report=${REPORT:-$(mktemp /tmp/rolling-report.XXXXXX.json)}
echo "rolling restart: $rounds round(s) over three nodes; report in $report" >&2
AGORA_ROLLING_ROUNDS=$rounds AGORA_ROLLING_REPORT=$report \
  scripts/pg.sh run cargo test -q "${profile[@]}" -p agora --test e2e -- \
  rolling::a_rolling_restart_under_load_fails_no_request_and_loses_no_write --exact --nocapture
python3 - "$report" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
h = r["http"]
print(f"rounds {r['rounds']}, restarts {len(r['restarts'])}, {r['seconds']:.1f} s")
print(f"HTTP: {h['requests']} requests, {h['failed']} failed; longest pause "
      f"writes {h['writes']['longest_pause_ms']} ms, reads {h['reads']['longest_pause_ms']} ms")
for name in ("cache", "chat", "jobs"):
    s = r[name]
    print(f"{name}: {s['ok']} acknowledged, {s['failed']} failed, {s['retried']} retried; "
          f"longest pause {s['longest_pause_ms']} ms")
print("acknowledged:", r["acknowledged"], "lost:", r["lost"])
print("follower:", r["follower"])
for x in r["restarts"]:
    print(f"  node {x['node']}: HAProxy saw it down after {x['marked_down_ms']} ms, "
          f"exited after {x['exited_ms']} ms, back after {x['back_ms']} ms")
EOF
