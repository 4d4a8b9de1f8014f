# Load-test tools, sourced by scripts/setup.sh (steps 6-7) with VIGIL_ROOT and
# VIGIL_CACHE set; idempotent, milliseconds when cached. Exports:
#   VIGIL_LOCUST_BIN  Locust in a Python venv (PyPI, loadtest/signaling/requirements.txt, all pinned),
#                     cached under $VIGIL_CACHE/locust-venv/<hash of requirements.txt>/
#   VIGIL_BOTS_BIN    the Pion media bots (loadtest/bots), built with the machine's Go (>= 1.24,
#                     $VIGIL_GO, PATH or /usr/local/go/bin; without one, the pinned Go toolchain module from the
#                     Go module proxy; modules from the Go proxy, checked against go.sum),
#                     cached under $VIGIL_CACHE/vigil-bots/<hash of go.mod, go.sum and sources>/
# Janus (Debian package `janus`) comes with the apt packages (scripts/apt-packages.txt).

# 6. Locust ------------------------------------------------------------------
LOCUST_HASH=$(sha256sum "$VIGIL_ROOT/loadtest/signaling/requirements.txt" | cut -c1-12)
LOCUST_VENV=$VIGIL_CACHE/locust-venv/$LOCUST_HASH
VIGIL_LOCUST_BIN=$LOCUST_VENV/bin/locust
if [ ! -x "$VIGIL_LOCUST_BIN" ]; then
	say "installing Locust (PyPI) into $LOCUST_VENV"
	rm -rf "$LOCUST_VENV.tmp"
	/usr/bin/python3 -m venv "$LOCUST_VENV.tmp"
	"$LOCUST_VENV.tmp/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$VIGIL_ROOT/loadtest/signaling/requirements.txt" >&2
	rm -rf "$LOCUST_VENV"
	mv "$LOCUST_VENV.tmp" "$LOCUST_VENV"
	# venv scripts carry the venv's absolute path in their shebang: rewrite it after the move.
	sed -i "1s|$LOCUST_VENV.tmp|$LOCUST_VENV|" "$LOCUST_VENV"/bin/*
	sed -i "s|$LOCUST_VENV.tmp|$LOCUST_VENV|g" "$LOCUST_VENV/bin/activate" "$LOCUST_VENV/pyvenv.cfg" 2>/dev/null || true
fi
export VIGIL_LOCUST_BIN

# 7. Pion media bots -----------------------------------------------------------
BOTS_SRC=$VIGIL_ROOT/loadtest/bots
BOTS_HASH=$(cat "$BOTS_SRC/go.mod" "$BOTS_SRC/go.sum" "$BOTS_SRC"/*.go | sha256sum | cut -c1-12)
VIGIL_BOTS_BIN=$VIGIL_CACHE/vigil-bots/$BOTS_HASH/vigil-bots
if [ ! -x "$VIGIL_BOTS_BIN" ]; then
	GO=${VIGIL_GO:-$(command -v go || echo /usr/local/go/bin/go)}
	go_ok() { [ -x "$1" ] && "$1" version 2>/dev/null | grep -Eq 'go1\.(2[4-9]|[3-9][0-9])'; }
	if ! go_ok "$GO"; then
		# No Go >= 1.24 on the machine (Debian bookworm's golang is 1.19): take the Go toolchain
		# module (golang.org/toolchain, what `go` itself downloads for GOTOOLCHAIN) from the Go
		# module proxy, checked against a pinned SHA-256, into the cache.
		GO_TC=v0.0.1-go1.26.8.linux-amd64
		GO_TC_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
		GO=$VIGIL_CACHE/go-toolchain/golang.org/toolchain@$GO_TC/bin/go
		if [ ! -x "$GO" ]; then
			[ "$(uname -m)" = x86_64 ] || { say "the media bots need Go >= 1.24 on PATH (no pinned toolchain for $(uname -m))"; exit 1; }
			say "no Go >= 1.24 found: fetching the Go toolchain module $GO_TC from the Go module proxy"
			mkdir -p "$VIGIL_CACHE/go-toolchain"
			/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
				"${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/$GO_TC.zip" "$VIGIL_CACHE/go-toolchain/tc.zip"
			echo "$GO_TC_SHA256  $VIGIL_CACHE/go-toolchain/tc.zip" | sha256sum -c --quiet
			/usr/bin/python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$VIGIL_CACHE/go-toolchain/tc.zip" "$VIGIL_CACHE/go-toolchain"
			chmod -R u+x "$VIGIL_CACHE/go-toolchain/golang.org/toolchain@$GO_TC/bin" "$VIGIL_CACHE/go-toolchain/golang.org/toolchain@$GO_TC/pkg/tool"
			rm -f "$VIGIL_CACHE/go-toolchain/tc.zip"
		fi
	fi
	say "building the media bots with $("$GO" version | cut -d' ' -f3) into $(dirname "$VIGIL_BOTS_BIN")"
	(cd "$BOTS_SRC" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOMODCACHE=$VIGIL_CACHE/go/mod GOCACHE=$VIGIL_CACHE/go/build \
		"$GO" build -trimpath -o "$VIGIL_BOTS_BIN.tmp" .) >&2
	mv "$VIGIL_BOTS_BIN.tmp" "$VIGIL_BOTS_BIN"
fi
export VIGIL_BOTS_BIN
