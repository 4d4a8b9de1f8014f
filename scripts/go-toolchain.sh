# Finds a Go toolchain of at least 1.$GO_MIN_MINOR and sets GO to its `go` binary; sourced by the
# scripts that build Go tools (loadtest/setup.sh: the Pion bots, Go >= 1.24; deploy/k8s/check/setup.sh:
# the manifest checker, Go >= 1.26 as k8s.io/api v0.37 needs) with VIGIL_CACHE and GO_MIN_MINOR set
# and say() defined. Order: $VIGIL_GO, `go` on PATH, /usr/local/go/bin/go; without a recent enough one,
# the pinned Go toolchain module from the Go module proxy (what `go` itself downloads for GOTOOLCHAIN),
# checked against a SHA-256.
GO=${VIGIL_GO:-$(command -v go || echo /usr/local/go/bin/go)}
go_ok() {
	[ -x "$1" ] || return 1
	minor=$("$1" version 2>/dev/null | sed -nE 's/.* go1\.([0-9]+).*/\1/p')
	[ -n "$minor" ] && [ "$minor" -ge "${GO_MIN_MINOR:-24}" ]
}
if ! go_ok "$GO"; then
	# No recent enough Go on the machine (Debian bookworm's golang is 1.19): take the Go toolchain
	# module (golang.org/toolchain, what `go` itself downloads for GOTOOLCHAIN) from the Go
	# module proxy, checked against a pinned SHA-256, into the cache.
	GO_TC=v0.0.1-go1.26.8.linux-amd64
	GO_TC_SHA256=30c2b1bf7dcc88d3eb0a1364e47ddd9128edb3110a30e8a0ef61cd5856b31de7
	GO=$VIGIL_CACHE/go-toolchain/golang.org/toolchain@$GO_TC/bin/go
	if [ ! -x "$GO" ]; then
		[ "$(uname -m)" = x86_64 ] || { say "building Go tools needs Go >= 1.24 on PATH (no pinned toolchain for $(uname -m))"; exit 1; }
		say "no Go >= 1.${GO_MIN_MINOR:-24} found: fetching the Go toolchain module $GO_TC from the Go module proxy"
		mkdir -p "$VIGIL_CACHE/go-toolchain"
		/usr/bin/python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' \
			"${GOPROXY_URL:-https://proxy.golang.org}/golang.org/toolchain/@v/$GO_TC.zip" "$VIGIL_CACHE/go-toolchain/tc.zip"
		echo "$GO_TC_SHA256  $VIGIL_CACHE/go-toolchain/tc.zip" | sha256sum -c --quiet
		/usr/bin/python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$VIGIL_CACHE/go-toolchain/tc.zip" "$VIGIL_CACHE/go-toolchain"
		chmod -R u+x "$VIGIL_CACHE/go-toolchain/golang.org/toolchain@$GO_TC/bin" "$VIGIL_CACHE/go-toolchain/golang.org/toolchain@$GO_TC/pkg/tool"
		rm -f "$VIGIL_CACHE/go-toolchain/tc.zip"
	fi
fi
