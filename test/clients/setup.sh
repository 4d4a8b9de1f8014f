# Test clients that are not Vigil's own code, sourced by scripts/setup.sh (step 9) with
# VIGIL_ROOT and VIGIL_CACHE set; idempotent, milliseconds when cached. Exports:
#   VIGIL_AIORTC_PYTHON  python of a venv with aiortc (PyPI, test/clients/aiortc/requirements.txt,
#                        every package pinned; binary wheels bring libvpx, FFmpeg and OpenSSL),
#                        cached under $VIGIL_CACHE/aiortc-venv/<hash of requirements.txt>/

# 9. aiortc ---------------------------------------------------------------------
AIORTC_HASH=$(sha256sum "$VIGIL_ROOT/test/clients/aiortc/requirements.txt" | cut -c1-12)
AIORTC_VENV=$VIGIL_CACHE/aiortc-venv/$AIORTC_HASH
VIGIL_AIORTC_PYTHON=$AIORTC_VENV/bin/python
if [ ! -x "$VIGIL_AIORTC_PYTHON" ]; then
	say "installing aiortc (PyPI) into $AIORTC_VENV"
	rm -rf "$AIORTC_VENV.tmp"
	/usr/bin/python3 -m venv "$AIORTC_VENV.tmp"
	"$AIORTC_VENV.tmp/bin/pip" install --quiet --disable-pip-version-check --no-input --only-binary=:all: -r "$VIGIL_ROOT/test/clients/aiortc/requirements.txt" >&2
	rm -rf "$AIORTC_VENV"
	mv "$AIORTC_VENV.tmp" "$AIORTC_VENV"
	# venv scripts carry the venv's absolute path in their shebang: rewrite it after the move.
	sed -i "1s|$AIORTC_VENV.tmp|$AIORTC_VENV|" "$AIORTC_VENV"/bin/*
	sed -i "s|$AIORTC_VENV.tmp|$AIORTC_VENV|g" "$AIORTC_VENV/bin/activate" "$AIORTC_VENV/pyvenv.cfg" 2>/dev/null || true
fi
export VIGIL_AIORTC_PYTHON
