#!/bin/sh
# Build libsrtp 2.5 on OpenSSL, static, for the mediasoup worker (scripts/build-mediasoup-worker.sh).
#
# Why: Debian's libsrtp2 is built on NSS. libsrtp's own timing driver, same
# source built both ways, 1,024-byte packets on this VM: AES-128-CM +
# HMAC-SHA1-80 868 (NSS) vs 4,063 Mbit/s (OpenSSL), AEAD-AES-256-GCM 3,627 vs
# 6,897 Mbit/s. SRTP protect runs once per packet per viewer, so it is the
# worker's largest per-consumer cost after the socket send.
#
# Source: Debian's own source package (`apt-get source libsrtp2=$DEB_VERSION`,
# its patches applied by dpkg-source), fetched through a private apt state
# (a deb-src list of its own, -o Dir::Etc::SourceList / SourceParts=/dev/null):
# the machine's apt configuration and lists are not touched, apt verifies
# the download against the signed Sources index as for any package.
# Built with `--enable-openssl` (libcrypto's AES-NI/CLMUL code for AES-CM,
# AES-GCM and HMAC-SHA1), CFLAGS -O3 -fPIC, only `libsrtp2.a`; installed into
# $PREFIX (include/srtp2, lib/libsrtp2.a, lib/pkgconfig/libsrtp2.pc).
# The worker links it statically, libcrypto stays Debian's shared one.
#
# Prerequisites (scripts/apt-packages.txt): gcc/make (g++, dpkg-dev),
#   dpkg-dev (dpkg-source), libssl-dev.
# Usage: PREFIX=/cache/dir sh scripts/build-libsrtp.sh
#   DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -eu

PREFIX=${PREFIX:?PREFIX is required}
DEB_VERSION=2.5.0-3
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vigil-libsrtp-build.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
# apt's download sandbox user (_apt) must be able to write the target directory.
chmod 755 "$SCRATCH"

APT=$SCRATCH/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$SCRATCH/src"
echo "deb-src $MIRROR $SUITE main" > "$APT/sources.list"
set -- -o Dir::Etc::SourceList="$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null \
	-o Dir::State::Lists="$APT/lists" -o Dir::Cache="$APT/cache" -o APT::Sandbox::User=root -qq
apt-get "$@" update
(cd "$SCRATCH/src" && apt-get "$@" source --only-source "libsrtp2=$DEB_VERSION")

SRC=$(find "$SCRATCH/src" -mindepth 1 -maxdepth 1 -type d -name 'libsrtp2-*' | head -n 1)
[ -n "$SRC" ] || { echo "apt-get source libsrtp2=$DEB_VERSION unpacked nothing" >&2; exit 1; }
cd "$SRC"
CFLAGS="-O3 -fPIC" ./configure --enable-openssl --prefix="$PREFIX" >"$SCRATCH/configure.log" 2>&1 || {
	tail -n 30 "$SCRATCH/configure.log" >&2
	exit 1
}
grep -q '^#define OPENSSL 1' crypto/include/config.h || {
	echo "libsrtp configure did not select OpenSSL (libssl-dev missing?)" >&2
	exit 1
}
make -j "$(nproc)" libsrtp2.a
make install DESTDIR="$SCRATCH/stage"

# Atomic: a half-built prefix never looks complete to the caller.
rm -rf "$PREFIX.tmp"
mkdir -p "$(dirname "$PREFIX")"
mv "$SCRATCH/stage$PREFIX" "$PREFIX.tmp"
rm -rf "$PREFIX"
mv "$PREFIX.tmp" "$PREFIX"
echo "built libsrtp $DEB_VERSION (OpenSSL, static): $PREFIX"
