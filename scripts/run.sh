#!/bin/sh
# Run a command with Vigil's environment: set-up first (scripts/setup.sh), then exec.
# Usage: sh scripts/run.sh <command> [args...]
set -eu
. "$(dirname "$0")/setup.sh"
cd "$VIGIL_ROOT"
exec "$@"
