#!/bin/sh
# The test run behind `npm test` (after scripts/setup.sh): type check, then vitest.
set -eu
# The 1080p camera tests send keyframe bursts of 0.5-1.6 MB: like a production
# host (README, "Socket buffers for keyframe bursts"), the kernel must let UDP
# sockets have 4 MiB. Raised here when lower (root only; the host keeps it).
want=4194304
for k in rmem_max wmem_max; do
	have=$(cat /proc/sys/net/core/$k 2>/dev/null || echo $want)
	[ "$have" -ge "$want" ] && continue
	if [ "$(id -u)" = 0 ] && echo $want > /proc/sys/net/core/$k 2>/dev/null; then
		echo "[vigil test] net.core.$k raised from $have to $want bytes (socket buffers for keyframe bursts, see README)" >&2
	else
		echo "[vigil test] net.core.$k is $have bytes, below $want: the keyframe-burst tests are skipped (run as root, or sysctl -w net.core.$k=$want)" >&2
	fi
done
echo "[vigil test] tsc --noEmit" >&2
tsc -p tsconfig.json
exec vitest run "$@"
