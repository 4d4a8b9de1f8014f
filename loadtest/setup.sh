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
	GO_MIN_MINOR=24 . "$VIGIL_ROOT/scripts/go-toolchain.sh"
	say "building the media bots with $("$GO" version | cut -d' ' -f3) into $(dirname "$VIGIL_BOTS_BIN")"
	(cd "$BOTS_SRC" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOMODCACHE=$VIGIL_CACHE/go/mod GOCACHE=$VIGIL_CACHE/go/build \
		"$GO" build -trimpath -o "$VIGIL_BOTS_BIN.tmp" .) >&2
	mv "$VIGIL_BOTS_BIN.tmp" "$VIGIL_BOTS_BIN"
fi
export VIGIL_BOTS_BIN
