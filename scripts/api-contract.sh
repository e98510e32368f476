#!/usr/bin/env bash
# The blog API against its own OpenAPI document: schemathesis (PyPI,
# pinned) generates requests from /api/openapi.json — valid ones and
# invalid ones, single and in sequences following the document's links —
# and checks every answer: never a 5xx, the status code, content type and
# headers documented for the operation, the body matching the documented
# schema, invalid input refused, authentication not ignored, a deleted
# resource gone. All of schemathesis's checks but one:
# positive_data_acceptance, which expects every schema-valid request to
# succeed, while the API has rules the schema cannot say (a blank title,
# following yourself and renaming an agora account are 422s).
#
#   scripts/api-contract.sh [EXAMPLES]   (default 20 per operation)
#   AGORA_BIN=path/to/agora scripts/api-contract.sh   (skip the build)
#
# Runs against a real daemon on port 0 with a fresh data directory, signed
# in as a user registered through the API (its token on every request),
# with one article and comment in place so slugs and ids can be found.
# The rate limits are raised for the run: schemathesis sends hundreds of
# requests a second from one address, which the defaults would refuse
# with 429 (also documented, but then nothing else would be tested).
# Bounded: EXAMPLES per operation (about a minute with the default).
#
# Then the same suite under an organization (issue 15: "the RealWorld API
# works unchanged under each organization"): the same user creates
# organization acme (and so is its owner: every write is allowed), one
# article and comment are put in it, and schemathesis runs again with
# every request sent to /t/acme/api/… (the path form of Host:
# acme.<base>, which routes the same way; the prefix is what any client
# can send). The organization-management operations (/orgs, /invitations)
# are left out of that pass: they are not the RealWorld API and the first
# pass covers them. ORG_EXAMPLES per operation there (default half of
# EXAMPLES, to keep CI's time in check; 0 skips the pass).
#
#   API_CONTRACT_ORG_EXAMPLES=N scripts/api-contract.sh
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-20}
org_examples=${API_CONTRACT_ORG_EXAMPLES:-$(((examples + 1) / 2))}
version=4.32.5
venv="$HOME/.cache/agora/schemathesis-$version"
if [ ! -x "$venv/bin/schemathesis" ]; then
  echo "installing schemathesis $version into $venv"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    }
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi
if [ -z "${AGORA_BIN:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/agora/target}"
  cargo build -p agora --locked -q
  AGORA_BIN="$CARGO_TARGET_DIR/debug/agora"
fi

tmp=$(mktemp -d)
"$AGORA_BIN" daemon --listen 127.0.0.1:0 --http 127.0.0.1:0 --data "$tmp/data" \
  --ready-file "$tmp/ready.json" --log-level warn \
  --blog-read-rate 100000 --blog-read-burst 100000 \
  --blog-write-rate 100000 --blog-write-burst 100000 \
  --blog-login-rate 100000 --blog-login-burst 100000 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 200); do [ -s "$tmp/ready.json" ] && break; sleep 0.1; done
http=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$tmp/ready.json")
base="http://$http"

# A user, an article and a comment, through the API itself.
token=$(python3 - "$base" <<'EOF'
import json, sys, urllib.request
base = sys.argv[1]
def call(method, path, body, token=None):
    req = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Token " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)
user = call("POST", "/api/users", {"user": {"username": "contract", "email": "contract@example.com",
                                            "password": "contract-password"}})["user"]
tok = user["token"]
call("POST", "/api/articles", {"article": {"title": "Contract", "description": "d", "body": "b",
                                           "tagList": ["contract"]}}, tok)
call("POST", "/api/articles/contract/comments", {"comment": {"body": "c"}}, tok)
# The organization the second pass runs in, owned by the same user.
call("POST", "/api/orgs", {"org": {"slug": "acme", "name": "Acme"}}, tok)
call("POST", "/t/acme/api/articles", {"article": {"title": "Contract", "description": "d",
                                                  "body": "b", "tagList": ["contract"]}}, tok)
call("POST", "/t/acme/api/articles/contract/comments", {"comment": {"body": "c"}}, tok)
print(tok)
EOF
)

# One pass: the document's operations against base URL $1 with $2
# examples each; further arguments go to schemathesis.
pass() {
  local url=$1 n=$2
  shift 2
  timeout 900 "$venv/bin/schemathesis" run "$base/api/openapi.json" \
    --url "$url" \
    --header "Authorization: Token $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$n" \
    --seed 1 \
    --workers 2 \
    --request-timeout 10 \
    --suppress-health-check all \
    --warnings off "$@"
}
echo "schemathesis $version: $examples examples per operation against $base/api/openapi.json"
pass "$base/api" "$examples"
if [ "$org_examples" -gt 0 ]; then
  echo "schemathesis $version: the same under organization acme ($base/t/acme/api), $org_examples examples per operation"
  pass "$base/t/acme/api" "$org_examples" --exclude-path-regex '^/(orgs|invitations)'
fi
