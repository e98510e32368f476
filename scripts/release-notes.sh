#!/usr/bin/env bash
# Prints CHANGELOG.md's section for VERSION (its "## [VERSION]" heading
# left out), for a release's notes (.github/workflows/release.yml). Fails,
# saying so, when the changelog has no such section or it is empty: a
# release must say what changed.
#
# Usage: scripts/release-notes.sh VERSION [CHANGELOG]
set -euo pipefail
version="${1:?usage: scripts/release-notes.sh VERSION [CHANGELOG]}"
file="${2:-$(dirname "$0")/../CHANGELOG.md}"
notes=$(awk -v v="$version" '
  /^## \[/ { if (found) exit; found = index($0, "## [" v "]") == 1; next }
  /^\[[^]]+\]: / { if (found) exit }
  found { print }
' "$file")
if [[ -z "${notes//[[:space:]]/}" ]]; then
  echo "release-notes: $file has no section \"## [$version]\" (or it is empty)" >&2
  exit 1
fi
printf '%s\n' "$notes" | sed -e '/./,$!d'
