#!/usr/bin/env bash
# Checks what deploy/ ships with the tools of the platforms it targets, so
# a unit, manifest or workflow that its platform would refuse fails here
# first (docs/DEPLOY.md):
#   - deploy/systemd/agora.service: `systemd-analyze verify` (syntax, known
#     directives, the ExecStart binary) and `systemd-analyze security
#     --offline`, whose exposure score must stay at or under 2.0 ("OK");
#   - deploy/systemd/agora.toml: `agora config check` (every key a daemon
#     flag, every value one it takes).
# Uses the debug binary the tests built (AGORA_BIN to pick another).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
bin="${AGORA_BIN:-$target/debug/agora}"
[[ -x "$bin" ]] || cargo build -q --locked -p agora
bin=$(realpath "$bin")

if ! command -v systemd-analyze >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "-- deploy/systemd/agora.service: systemd-analyze verify"
# The unit names /usr/local/bin/agora; verify checks that ExecStart's
# binary exists, so the check runs on a copy naming the one just built.
unit="$work/agora.service"
sed "s#/usr/local/bin/agora#$bin#g" deploy/systemd/agora.service >"$unit"
# verify exits 0 on an unknown or misspelt directive, only warning: any
# word from it fails the check.
said=$(systemd-analyze verify --man=no "$unit" 2>&1) || { echo "$said"; exit 1; }
if [[ -n "$said" ]]; then
  echo "$said"
  echo "systemd-analyze verify has complaints (above)" >&2
  exit 1
fi

echo "-- deploy/systemd/agora.service: systemd-analyze security (exposure <= 2.0)"
systemd-analyze security --offline=true --threshold=20 --no-pager "$unit" | tail -1

echo "-- deploy/systemd/agora.toml: agora config check"
env -u AGORA_CONFIG "$bin" config check deploy/systemd/agora.toml >/dev/null
echo "ok"
