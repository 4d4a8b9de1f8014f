# The Kubernetes manifest checker (deploy/k8s/check: strict decoding against k8s.io/api),
# sourced by scripts/setup.sh (step 8) with VIGIL_ROOT and VIGIL_CACHE set; milliseconds
# when cached. Exports VIGIL_K8S_CHECK_BIN, built with the machine's Go >= 1.26 (scripts/go-toolchain.sh),
# modules from the Go module proxy checked against go.sum, cached under
# $VIGIL_CACHE/k8s-check/<hash of go.mod, go.sum and sources>/.
K8S_CHECK_SRC=$VIGIL_ROOT/deploy/k8s/check
K8S_CHECK_HASH=$(cat "$K8S_CHECK_SRC/go.mod" "$K8S_CHECK_SRC/go.sum" "$K8S_CHECK_SRC"/*.go | sha256sum | cut -c1-12)
VIGIL_K8S_CHECK_BIN=$VIGIL_CACHE/k8s-check/$K8S_CHECK_HASH/k8s-check
if [ ! -x "$VIGIL_K8S_CHECK_BIN" ]; then
	GO_MIN_MINOR=26 . "$VIGIL_ROOT/scripts/go-toolchain.sh"
	say "building the Kubernetes manifest checker with $("$GO" version | cut -d' ' -f3) into $(dirname "$VIGIL_K8S_CHECK_BIN")"
	mkdir -p "$(dirname "$VIGIL_K8S_CHECK_BIN")"
	(cd "$K8S_CHECK_SRC" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly GOMODCACHE=$VIGIL_CACHE/go/mod GOCACHE=$VIGIL_CACHE/go/build \
		"$GO" build -trimpath -o "$VIGIL_K8S_CHECK_BIN.tmp" .) >&2
	mv "$VIGIL_K8S_CHECK_BIN.tmp" "$VIGIL_K8S_CHECK_BIN"
fi
export VIGIL_K8S_CHECK_BIN
