#!/usr/bin/env bash
# Regenerates every generated file. With --check, fails when the result differs from what is
# committed (CI's drift check): generated files are never edited by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

# The generators and what each writes; add new ones here.
generated_paths=(packages/db/src/generated crds charts/switchboard/crds)
npm run --silent generate -w @switchboard/db
npm run --silent generate -w @switchboard/operator

if [ "${1:-}" = "--check" ]; then
  drift="$(git status --porcelain --untracked-files=all -- "${generated_paths[@]}")"
  if [ -n "$drift" ]; then
    echo "generated files differ from what is committed (run \`make generate\` and commit):" >&2
    echo "$drift" >&2
    git --no-pager diff --stat -- "${generated_paths[@]}" >&2
    exit 1
  fi
  echo "generated files match"
fi
