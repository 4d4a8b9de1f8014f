#!/bin/sh
# Idempotent set-up for a fresh Debian bookworm machine; seconds when nothing is missing.
#   1. apt packages from scripts/apt-packages.txt (sudo when not root)
#   2. Node.js 24 LTS from the npm registry (package node@$NODE_VERSION) into the cache
#   3. npm dependencies, installed by npm running under Node 24 (re-run when package-lock.json changes)
#   4. mediasoup-worker built offline (scripts/build-mediasoup-worker.sh) into the cache,
#      keyed by mediasoup version + hash of the build scripts; first libsrtp on OpenSSL
#      (scripts/build-libsrtp.sh), cached under libsrtp/<hash of its script>
#   5. the client SDK bundles (client-sdk/dist)
#   6-7. load-test tools (loadtest/setup.sh): Locust in a venv, the Pion media bots (Go);
#        skipped with VIGIL_LOADTEST_TOOLS=0 (npm start)
#   8. the Kubernetes manifest checker (deploy/k8s/check, Go); skipped likewise
# Source it (". scripts/setup.sh") to get PATH, MEDIASOUP_WORKER_BIN, VIGIL_LOCUST_BIN, VIGIL_BOTS_BIN and
# VIGIL_K8S_CHECK_BIN exported.
# Cache: $VIGIL_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/vigil (outside the clone).
set -eu

VIGIL_ROOT=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd)
[ -f "$VIGIL_ROOT/scripts/setup.sh" ] || VIGIL_ROOT=$(pwd)
NODE_VERSION=24.21.0
VIGIL_CACHE=${VIGIL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil}
mkdir -p "$VIGIL_CACHE"
say() { echo "[vigil setup] $*" >&2; }

# 1. apt packages ------------------------------------------------------------
missing=""
for pkg in $(grep -v '^#' "$VIGIL_ROOT/scripts/apt-packages.txt"); do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	say "installing apt packages:$missing"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. Node.js 24 ----------------------------------------------------------------
NODE_DIR=$VIGIL_CACHE/node-$NODE_VERSION
if [ ! -x "$NODE_DIR/node_modules/.bin/node" ]; then
	say "installing Node.js $NODE_VERSION (npm package node@$NODE_VERSION) into $NODE_DIR"
	rm -rf "$NODE_DIR.tmp"
	npm install --prefix "$NODE_DIR.tmp" --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@$NODE_VERSION >/dev/null
	rm -rf "$NODE_DIR"
	mv "$NODE_DIR.tmp" "$NODE_DIR"
fi
PATH=$NODE_DIR/node_modules/.bin:$PATH
export PATH
[ "$(node -v)" = "v$NODE_VERSION" ] || { say "node on PATH is $(node -v), expected v$NODE_VERSION"; exit 1; }

# 3. npm dependencies (under Node 24; mediasoup's postinstall skipped: the worker comes from step 4)
LOCK_HASH=$(cat "$VIGIL_ROOT/package-lock.json" "$VIGIL_ROOT/scripts/setup.sh" | sha256sum | cut -c1-16)
if [ "$(cat "$VIGIL_ROOT/node_modules/.vigil-lock-hash" 2>/dev/null)" != "$LOCK_HASH" ]; then
	say "installing npm dependencies under Node $(node -v)"
	(cd "$VIGIL_ROOT" && MEDIASOUP_WORKER_BIN=prebuilt-skipped npm ci --no-audit --no-fund --loglevel=error >/dev/null)
	echo "$LOCK_HASH" > "$VIGIL_ROOT/node_modules/.vigil-lock-hash"
fi

# 4. mediasoup-worker ---------------------------------------------------------
MS_DIR=$VIGIL_ROOT/node_modules/mediasoup
MS_VERSION=$(node -p "require('$MS_DIR/package.json').version")
BUILD_HASH=$(cat "$VIGIL_ROOT/scripts/build-mediasoup-worker.sh" "$VIGIL_ROOT/scripts/build-libsrtp.sh" | sha256sum | cut -c1-12)
MEDIASOUP_WORKER_BIN=$VIGIL_CACHE/mediasoup-worker/$MS_VERSION-$BUILD_HASH/mediasoup-worker
if [ ! -x "$MEDIASOUP_WORKER_BIN" ]; then
	# libsrtp on OpenSSL (static, linked into the worker), its own cache entry.
	LIBSRTP_HASH=$(sha256sum "$VIGIL_ROOT/scripts/build-libsrtp.sh" | cut -c1-12)
	LIBSRTP_PREFIX=$VIGIL_CACHE/libsrtp/$LIBSRTP_HASH
	if [ ! -f "$LIBSRTP_PREFIX/lib/libsrtp2.a" ]; then
		say "building libsrtp on OpenSSL from Debian's source package (~10 s; cached afterwards)"
		PREFIX=$LIBSRTP_PREFIX sh "$VIGIL_ROOT/scripts/build-libsrtp.sh" > "$VIGIL_CACHE/libsrtp-build.log" 2>&1 || {
			tail -n 40 "$VIGIL_CACHE/libsrtp-build.log" >&2
			say "libsrtp build failed; full log: $VIGIL_CACHE/libsrtp-build.log"
			exit 1
		}
	fi
	say "building mediasoup-worker $MS_VERSION offline (takes ~4 min on 2 cores; cached afterwards)"
	started=$(date +%s)
	MS_DIR=$MS_DIR OUT_BIN=$MEDIASOUP_WORKER_BIN VENV=$VIGIL_CACHE/meson-venv LIBSRTP_PREFIX=$LIBSRTP_PREFIX \
		sh "$VIGIL_ROOT/scripts/build-mediasoup-worker.sh" > "$VIGIL_CACHE/worker-build.log" 2>&1 || {
		tail -n 40 "$VIGIL_CACHE/worker-build.log" >&2
		say "mediasoup-worker build failed; full log: $VIGIL_CACHE/worker-build.log"
		exit 1
	}
	say "mediasoup-worker built in $(( $(date +%s) - started )) s"
fi
export MEDIASOUP_WORKER_BIN

# 5. client SDK bundles (esbuild, well under a second) --------------------------
(cd "$VIGIL_ROOT" && node client-sdk/build.ts >/dev/null)

# 6-7. load-test tools: Locust (venv), Pion media bots (Go); `npm start` skips them --------
[ "${VIGIL_LOADTEST_TOOLS:-1}" = 0 ] || . "$VIGIL_ROOT/loadtest/setup.sh"

# 8. Kubernetes manifest checker (Go, k8s.io/api strict decoding; test tool, `npm start` skips it) ------
[ "${VIGIL_LOADTEST_TOOLS:-1}" = 0 ] || . "$VIGIL_ROOT/deploy/k8s/check/setup.sh"
