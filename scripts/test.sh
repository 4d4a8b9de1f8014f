#!/bin/sh
# The test run behind `npm test` (after scripts/setup.sh): type check, then vitest.
set -eu
echo "[vigil test] tsc --noEmit" >&2
tsc -p tsconfig.json
exec vitest run "$@"
