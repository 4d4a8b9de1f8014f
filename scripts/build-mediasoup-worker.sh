#!/bin/sh
# Build mediasoup-worker OFFLINE against Debian bookworm system libraries.
#
# Vigil's own copy of the verified recipe (../shared/reference/mediasoup-offline),
# used by scripts/setup.sh. It builds from a scratch copy of the worker sources
# of the installed mediasoup package (node_modules stays pristine) and writes
# one binary to $OUT_BIN. Callers cache $OUT_BIN keyed by mediasoup version and
# a hash of this file.
#
# Meson "wrap-file" subprojects are satisfied by small shim directories (placed
# under the directory name given in each .wrap file, so meson never downloads)
# that map onto Debian packages, except libsrtp: Debian's is built on NSS
# (4.7x slower AES-CM+HMAC, 1.9x slower AES-GCM than on OpenSSL), so the worker
# links libsrtp 2.5 built on OpenSSL by scripts/build-libsrtp.sh (static, from
# Debian's source package) from $LIBSRTP_PREFIX. Two adapter headers: srtp.h
# (libsrtp 3 call signatures + srtp_policy_* on libsrtp 2.5) and
# ankerl/unordered_dense.h (std containers). One line of mediasoup is patched (the DtlsTransport BIO
# callback, see below); without it a browser's DTLS handshake crashes the
# worker on Debian's kTLS-enabled OpenSSL.
#
# Prerequisites (installed by scripts/setup.sh from scripts/apt-packages.txt):
#   g++ pkg-config python3-venv libuv1-dev libssl-dev
#   libusrsctp-dev libabsl-dev flatbuffers-compiler libflatbuffers-dev
# and libsrtp in $LIBSRTP_PREFIX (PREFIX=... sh scripts/build-libsrtp.sh).
# meson >= 1.1 comes from PyPI into a venv under $VENV (Debian's is 1.0.1).
#
# Usage: MS_DIR=node_modules/mediasoup OUT_BIN=/path/mediasoup-worker VENV=/path/venv \
#          LIBSRTP_PREFIX=/path/libsrtp sh scripts/build-mediasoup-worker.sh
set -eu

MS_DIR=$(cd "${MS_DIR:?MS_DIR is required}" && pwd)
OUT_BIN=${OUT_BIN:?OUT_BIN is required}
VENV=${VENV:?VENV is required}
LIBSRTP_PREFIX=${LIBSRTP_PREFIX:?LIBSRTP_PREFIX is required (scripts/build-libsrtp.sh)}
VERSION=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$MS_DIR/package.json" | head -n 1)
[ -f "$LIBSRTP_PREFIX/lib/libsrtp2.a" ] || { echo "no libsrtp2.a in $LIBSRTP_PREFIX/lib" >&2; exit 1; }
# Our libsrtp2.pc first; its lib dir holds only the static archive, so -lsrtp2 links it statically.
PKG_CONFIG_PATH=$LIBSRTP_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH

for pc in libuv openssl libsrtp2 absl_flat_hash_map flatbuffers; do
	pkg-config --exists "$pc" || {
		echo "missing pkg-config module $pc (see scripts/apt-packages.txt)" >&2
		exit 1
	}
done
[ "$(pkg-config --variable=prefix libsrtp2)" = "$LIBSRTP_PREFIX" ] || {
	echo "pkg-config finds libsrtp2 in $(pkg-config --variable=prefix libsrtp2), not $LIBSRTP_PREFIX" >&2
	exit 1
}
command -v flatc >/dev/null || { echo "missing flatc (flatbuffers-compiler)" >&2; exit 1; }

if [ ! -x "$VENV/bin/meson" ]; then
	python3 -m venv "$VENV"
	"$VENV/bin/pip" install --quiet 'meson>=1.1,<2'
	command -v ninja >/dev/null || "$VENV/bin/pip" install --quiet ninja
fi
MESON=$VENV/bin/meson
PATH=$VENV/bin:$PATH
export PATH

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/vigil-worker-build.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
cp -r "$MS_DIR/worker" "$SCRATCH/worker"
WORKER=$SCRATCH/worker
OUT=$SCRATCH/out
SHIMS=$SCRATCH/shims
# ---------------------------------------------------------------------------
# Shim subprojects.
mkdir -p "$SHIMS/openssl" "$SHIMS/libuv" "$SHIMS/libsrtp2/include" \
	"$SHIMS/usrsctp" "$SHIMS/abseil-cpp" "$SHIMS/catch2" "$SHIMS/flatbuffers" \
	"$SHIMS/unordered-dense/include/ankerl"

cat > "$SHIMS/openssl/meson.build" <<'EOF'
project('openssl', 'c')
libcrypto_dep = dependency('libcrypto')
libssl_dep = dependency('libssl')
openssl_dep = dependency('openssl')
# Only used in link_whole of libmediasoup-worker (not built by default).
libcrypto_lib = []
libssl_lib = []
EOF

cat > "$SHIMS/libuv/meson.build" <<'EOF'
project('libuv', 'c')
libuv_dep = dependency('libuv')
libuv = []
EOF
cat > "$SHIMS/libuv/meson_options.txt" <<'EOF'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
EOF

cat > "$SHIMS/usrsctp/meson.build" <<'EOF'
project('usrsctp', 'c')
usrsctp_dep = dependency('usrsctp')
usrsctp = []
EOF
cat > "$SHIMS/usrsctp/meson_options.txt" <<'EOF'
option('sctp_build_programs', type: 'boolean', value: false)
EOF

cat > "$SHIMS/abseil-cpp/meson.build" <<'EOF'
project('abseil-cpp', 'cpp')
absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map'),
  dependency('absl_flat_hash_set'),
  dependency('absl_btree'),
  dependency('absl_inlined_vector'),
  dependency('absl_memory'),
])
absl_strings_dep = dependency('absl_strings')
absl_types_dep = declare_dependency(dependencies: [
  dependency('absl_optional'),
  dependency('absl_variant'),
  dependency('absl_span'),
])
absl_container_lib = []
EOF

cat > "$SHIMS/catch2/meson.build" <<'EOF'
# Catch2 v3 is only used by mediasoup-worker-test (not built); Debian has v2.
project('catch2', 'cpp')
catch2_dep = declare_dependency()
catch2_with_main_dep = catch2_dep
EOF

cat > "$SHIMS/flatbuffers/meson.build" <<'EOF'
# flatc itself comes from find_program('flatc') (flatbuffers-compiler).
project('flatbuffers', 'cpp')
flatbuffers_dep = dependency('flatbuffers')
flatbuffers_lib = []
EOF

cat > "$SHIMS/libsrtp2/meson.build" <<'EOF'
# libsrtp 2.5 on OpenSSL from $LIBSRTP_PREFIX (libsrtp2.pc first in
# PKG_CONFIG_PATH; static archive only); include/srtp.h adds libsrtp-3-style adapters.
project('libsrtp2', 'c')
libsrtp2_dep = declare_dependency(
  dependencies: dependency('libsrtp2', version: '>= 2.3'),
  include_directories: include_directories('include'),
  compile_args: get_option('policy_api') ? ['-DMS_SHIM_SRTP_POLICY_API'] : [],
)
libsrtp2 = []
libsrtp3_dep = libsrtp2_dep
libsrtp3 = []
EOF
cat > "$SHIMS/libsrtp2/meson_options.txt" <<'EOF'
option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'feature', value: 'disabled')
option('tests', type: 'feature', value: 'disabled')
option('policy_api', type: 'boolean', value: false)
EOF
cat > "$SHIMS/libsrtp2/include/srtp.h" <<'EOF'
// Shim <srtp.h> for building mediasoup-worker against libsrtp 2.5
// (libsrtp 2.x API; built on OpenSSL by scripts/build-libsrtp.sh). Includes the real header and, for C++ only, adds thin
// inline adapters for the API variants of versatica's libsrtp forks:
//   - "3.0-alpha" (mediasoup 3.13.18 - 3.15.x): in-place uint8_t*/size_t*.
//   - "3.0.0-beta" (mediasoup 3.16 - 3.22): separate in/out buffers.
//   - srtp_stream_remove() (renamed srtp_remove_stream() in libsrtp 3).
//   - with MS_SHIM_SRTP_POLICY_API defined (mediasoup >= 3.24, libsrtp
//     3.0.0-beta-2fc078db): opaque srtp_policy_t + srtp_policy_*() builder
//     API, emulated on top of the 2.x srtp_policy_t struct (no MKI).
// Nothing here changes behaviour for code written against libsrtp 2.x.
#ifndef MS_SHIM_SRTP_H
#define MS_SHIM_SRTP_H
#if defined(__cplusplus) && defined(MS_SHIM_SRTP_POLICY_API)
// Rename libsrtp 2.x's policy struct so srtp_policy_t can be the v3 handle.
#define srtp_policy_t ms_srtp2_policy_t
#include <srtp2/srtp.h>
#undef srtp_policy_t
#else
#include <srtp2/srtp.h>
#endif
#ifdef __cplusplus
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

// Error codes added in libsrtp 3 (not produced by libsrtp 2.x).
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err = static_cast<srtp_err_status_t>(29);

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}

#define MS_SHIM_SRTP_ALPHA(fn)                                                   \
	inline srtp_err_status_t fn(srtp_t ctx, uint8_t* buf, size_t* len)           \
	{                                                                            \
		if (*len > static_cast<size_t>(INT_MAX))                                   \
			return srtp_err_status_bad_param;                                        \
		int ilen = static_cast<int>(*len);                                         \
		const srtp_err_status_t err = fn(ctx, static_cast<void*>(buf), &ilen);     \
		*len = static_cast<size_t>(ilen);                                          \
		return err;                                                                \
	}
MS_SHIM_SRTP_ALPHA(srtp_protect)
MS_SHIM_SRTP_ALPHA(srtp_unprotect)
MS_SHIM_SRTP_ALPHA(srtp_protect_rtcp)
MS_SHIM_SRTP_ALPHA(srtp_unprotect_rtcp)
#undef MS_SHIM_SRTP_ALPHA

// 3.0.0-beta protect: (ctx, in, in_len, out, *out_len, mki_index).
#define MS_SHIM_SRTP_BETA_PROTECT(fn)                                            \
	inline srtp_err_status_t fn(                                                 \
	  srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen, size_t mkiIndex) \
	{                                                                            \
		if (mkiIndex != 0)                                                         \
			return srtp_err_status_bad_mki;                                          \
		if (inLen > static_cast<size_t>(INT_MAX) || *outLen < inLen + SRTP_MAX_TRAILER_LEN) \
			return srtp_err_status_buffer_small;                                     \
		if (out != in)                                                             \
			std::memmove(out, in, inLen);                                            \
		int ilen = static_cast<int>(inLen);                                        \
		const srtp_err_status_t err = fn(ctx, static_cast<void*>(out), &ilen);     \
		if (err == srtp_err_status_ok)                                             \
			*outLen = static_cast<size_t>(ilen);                                     \
		return err;                                                                \
	}
// 3.0.0-beta unprotect: (ctx, in, in_len, out, *out_len).
#define MS_SHIM_SRTP_BETA_UNPROTECT(fn)                                          \
	inline srtp_err_status_t fn(                                                 \
	  srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen) \
	{                                                                            \
		if (inLen > static_cast<size_t>(INT_MAX) || *outLen < inLen)               \
			return srtp_err_status_buffer_small;                                     \
		if (out != in)                                                             \
			std::memmove(out, in, inLen);                                            \
		int ilen = static_cast<int>(inLen);                                        \
		const srtp_err_status_t err = fn(ctx, static_cast<void*>(out), &ilen);     \
		if (err == srtp_err_status_ok)                                             \
			*outLen = static_cast<size_t>(ilen);                                     \
		return err;                                                                \
	}
MS_SHIM_SRTP_BETA_PROTECT(srtp_protect)
MS_SHIM_SRTP_BETA_PROTECT(srtp_protect_rtcp)
MS_SHIM_SRTP_BETA_UNPROTECT(srtp_unprotect)
MS_SHIM_SRTP_BETA_UNPROTECT(srtp_unprotect_rtcp)
#undef MS_SHIM_SRTP_BETA_PROTECT
#undef MS_SHIM_SRTP_BETA_UNPROTECT

#ifdef MS_SHIM_SRTP_POLICY_API
#include <new>
struct ms_srtp_policy_impl
{
	ms_srtp2_policy_t policy;
	uint8_t key[SRTP_MAX_KEY_LEN];
};
typedef ms_srtp_policy_impl* srtp_policy_t;

inline srtp_err_status_t srtp_policy_create(srtp_policy_t* policy)
{
	auto* impl = new (std::nothrow) ms_srtp_policy_impl(); // zero-initialized
	if (!impl)
		return srtp_err_status_alloc_fail;
	impl->policy.key = impl->key;
	*policy          = impl;
	return srtp_err_status_ok;
}
inline void srtp_policy_destroy(srtp_policy_t policy)
{
	delete policy;
}
inline srtp_err_status_t srtp_policy_set_ssrc(srtp_policy_t policy, srtp_ssrc_t ssrc)
{
	if (!policy)
		return srtp_err_status_bad_param;
	policy->policy.ssrc = ssrc;
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_profile(srtp_policy_t policy, srtp_profile_t profile)
{
	if (!policy)
		return srtp_err_status_bad_param;
	const srtp_err_status_t err =
	  srtp_crypto_policy_set_from_profile_for_rtp(&policy->policy.rtp, profile);
	if (err != srtp_err_status_ok)
		return err;
	return srtp_crypto_policy_set_from_profile_for_rtcp(&policy->policy.rtcp, profile);
}
inline srtp_err_status_t srtp_policy_add_key(
  srtp_policy_t policy,
  const uint8_t* key,
  size_t keyLen,
  const uint8_t* salt,
  size_t saltLen,
  const uint8_t* mki,
  size_t mkiLen)
{
	if (!policy || mki || mkiLen != 0 || keyLen + saltLen > sizeof(policy->key))
		return srtp_err_status_bad_param;
	std::memcpy(policy->key, key, keyLen);
	std::memcpy(policy->key + keyLen, salt, saltLen);
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_allow_repeat_tx(srtp_policy_t policy, bool allow)
{
	if (!policy)
		return srtp_err_status_bad_param;
	policy->policy.allow_repeat_tx = allow ? 1 : 0;
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_policy_set_window_size(srtp_policy_t policy, size_t windowSize)
{
	if (!policy)
		return srtp_err_status_bad_param;
	policy->policy.window_size = static_cast<unsigned long>(windowSize);
	return srtp_err_status_ok;
}
inline srtp_err_status_t srtp_create(srtp_t* session, srtp_policy_t policy)
{
	if (!policy)
		return srtp_err_status_bad_param;
	return srtp_create(session, &policy->policy);
}
#endif // MS_SHIM_SRTP_POLICY_API
#endif // __cplusplus
#endif // MS_SHIM_SRTP_H
EOF
# mediasoup >= 3.16 names the subproject "libsrtp3".
cp -r "$SHIMS/libsrtp2" "$SHIMS/libsrtp3"
sed -i "s/project('libsrtp2'/project('libsrtp3'/" "$SHIMS/libsrtp3/meson.build"

cat > "$SHIMS/unordered-dense/meson.build" <<'EOF'
# mediasoup >= 3.21: stand-in for ankerl::unordered_dense (not in Debian).
project('ankerl-unordered-dense', 'cpp')
ankerl_unordered_dense_dep = declare_dependency(
  include_directories: include_directories('include'),
)
EOF
cat > "$SHIMS/unordered-dense/include/ankerl/unordered_dense.h" <<'EOF'
// Minimal stand-in for ankerl/unordered_dense.h (map, set, hash) on top of
// std::unordered_map/set (C++20 for contains()).
#ifndef MS_SHIM_ANKERL_UNORDERED_DENSE_H
#define MS_SHIM_ANKERL_UNORDERED_DENSE_H
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
namespace ankerl::unordered_dense
{
	template<class T, class Enable = void>
	struct hash
	{
		using is_avalanching = void;
		uint64_t operator()(const T& v) const
		{
			auto x = static_cast<uint64_t>(std::hash<T>{}(v));
			x ^= x >> 30;
			x *= 0xbf58476d1ce4e5b9ULL;
			x ^= x >> 27;
			x *= 0x94d049bb133111ebULL;
			x ^= x >> 31;
			return x;
		}
	};
	template<class K, class T, class H = hash<K>, class E = std::equal_to<K>,
	         class A = std::allocator<std::pair<const K, T>>>
	using map = std::unordered_map<K, T, H, E, A>;
	template<class K, class H = hash<K>, class E = std::equal_to<K>, class A = std::allocator<K>>
	using set = std::unordered_set<K, H, E, A>;
} // namespace ankerl::unordered_dense
#endif
EOF

# Place each shim where the matching .wrap expects its source directory.
for s in "$SHIMS"/*/; do
	name=$(basename "$s")
	wrap=$WORKER/subprojects/$name.wrap
	[ -f "$wrap" ] || continue
	dir=$(sed -n 's/^directory *= *//p' "$wrap")
	rm -rf "$WORKER/subprojects/$dir"
	cp -r "$s" "$WORKER/subprojects/$dir"
done

# ---------------------------------------------------------------------------
# Build (same steps as worker/tasks.py, minus pip/downloads).
cd "$WORKER"
# mediasoup >= 3.12 DtlsTransport bug: its BIO callback returns 1 for every
# BIO_ctrl() (it tests operationType == BIO_CB_RETURN, but a ctrl return
# arrives as BIO_CB_RETURN|BIO_CB_CTRL). Debian builds OpenSSL with kTLS, so
# libssl asks the mem BIO BIO_get_ktls_send(), gets 1, skips allocating its
# write buffer and the worker segfaults in SSL_read during the first DTLS
# handshake with a browser. Upstream bundles OpenSSL without kTLS and never
# sees it. Fix: pass the real return value through for every BIO_CB_RETURN.
sed -i 's/(operationType == BIO_CB_RETURN)/(operationType \& BIO_CB_RETURN)/' src/RTC/DtlsTransport.cpp
grep -q '(operationType & BIO_CB_RETURN)' src/RTC/DtlsTransport.cpp || {
	echo "DtlsTransport BIO callback patch did not apply: re-verify the recipe for mediasoup $VERSION" >&2
	exit 1
}
EXTRA=""
# Debian's liburing 2.3 lacks APIs mediasoup uses (needs 2.4+).
grep -q ms_disable_liburing meson_options.txt 2>/dev/null && EXTRA="-Dms_disable_liburing=true"
# mediasoup >= 3.24 uses libsrtp 3's srtp_policy_*() API.
grep -q srtp_policy_create src/RTC/SrtpSession.cpp && EXTRA="$EXTRA -Dlibsrtp3:policy_api=true"
"$MESON" setup --prefix "$OUT" --bindir "" --libdir "" --buildtype release \
	-Db_ndebug=true --wrap-mode=nodownload $EXTRA ${MESON_ARGS:-} "$OUT/build"
# FBS headers must exist before compiling (worker/tasks.py does this as well).
"$MESON" compile -C "$OUT/build" flatbuffers-generator
"$MESON" compile -C "$OUT/build" -j "$(nproc)" mediasoup-worker
# SRTP must be our static OpenSSL libsrtp: no shared libsrtp2, no NSS.
if ldd "$OUT/build/mediasoup-worker" | grep -Ei 'libsrtp|libnss|libnspr'; then
	echo "mediasoup-worker links a shared libsrtp2/NSS (see above): expected static libsrtp from $LIBSRTP_PREFIX" >&2
	exit 1
fi
mkdir -p "$(dirname "$OUT_BIN")"
cp "$OUT/build/mediasoup-worker" "$OUT_BIN.tmp"
mv "$OUT_BIN.tmp" "$OUT_BIN"
echo "built mediasoup-worker $VERSION: $OUT_BIN"
