#!/usr/bin/env bash
# Checks the Python SDK (sdk/python): type checks (mypy --strict), tests
# against the real daemon (pytest), builds the wheel and sdist and checks
# them (twine). Runs in a virtual environment at $AGORA_VENV (default
# ~/.cache/agora/venv-sdk), created on first use.
#
# The tests start `agora daemon` themselves from $AGORA_BIN (default
# target/debug/agora, or $CARGO_TARGET_DIR/debug/agora); build it first.
# Extra arguments go to pytest, e.g. `scripts/python-sdk.sh -k chat`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sdk=$root/sdk/python
venv=${AGORA_VENV:-${HOME:-/tmp}/.cache/agora/venv-sdk}
python=${PYTHON:-python3}
started=$(date +%s)

step() { printf '\n== %s\n' "$*"; }

if [[ -z "${AGORA_BIN:-}" ]]; then
    AGORA_BIN=${CARGO_TARGET_DIR:-$root/target}/debug/agora
fi
export AGORA_BIN
if [[ ! -x "$AGORA_BIN" ]]; then
    echo "python-sdk: no agora binary at $AGORA_BIN (cargo build, or set AGORA_BIN)" >&2
    exit 2
fi

step "virtual environment: $venv"
if [[ ! -x "$venv/bin/python" ]]; then
    if ! "$python" -m venv "$venv" 2>/dev/null; then
        if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
            echo "python3 -m venv failed; installing python3-venv"
            rm -rf "$venv"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv "$venv"
        else
            echo "python-sdk: '$python -m venv' failed; install python3-venv" >&2
            exit 2
        fi
    fi
fi
"$venv/bin/python" --version

step "install tools and the SDK (editable)"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
"$venv/bin/python" -m pip install -q \
    "msgpack>=1.0" "pytest>=8" "pytest-asyncio>=0.24" "pytest-timeout>=2" \
    "mypy>=1.8" "build>=1" "twine>=5" "hatchling>=1.18" "editables>=0.5"
"$venv/bin/python" -m pip install -q --no-build-isolation -e "$sdk"

cd "$sdk"

step "mypy --strict (src, tests, examples, bench.py, bench_worker.py)"
"$venv/bin/python" -m mypy --strict src tests examples bench.py bench_worker.py

step "pytest (daemon: $AGORA_BIN)"
"$venv/bin/python" -m pytest -q "$@"

step "python -m build (wheel and sdist)"
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
"$venv/bin/python" -m build --no-isolation --outdir "$dist" . >"$dist/build.log" 2>&1 || {
    cat "$dist/build.log" >&2
    exit 1
}
ls -l "$dist"/*.whl "$dist"/*.tar.gz

step "twine check"
"$venv/bin/python" -m twine check --strict "$dist"/*.whl "$dist"/*.tar.gz

step "wheel contents"
"$venv/bin/python" - "$dist" <<'EOF'
import sys, zipfile, pathlib
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
names = zipfile.ZipFile(wheel).namelist()
for required in ("agora_client/py.typed", "agora_client/client.py", "agora_client/services/chat.py"):
    assert required in names, f"{required} missing from {wheel.name}"
assert not any(n.startswith("tests/") for n in names), "tests leaked into the wheel"
print(f"{wheel.name}: {len(names)} files, py.typed included")
EOF

step "ok: python SDK checked in $(( $(date +%s) - started )) s"
