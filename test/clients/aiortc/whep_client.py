"""A WHEP player on aiortc (an independent WebRTC stack: Python, libvpx and
FFmpeg through PyAV), for Vigil's tests.

It POSTs a recvonly video offer to a WHEP endpoint (draft-ietf-wish-whep;
RFC 9725 section 4.2) with a bearer token, applies the answer, DECODES video
frames until it has --frames of them (or --timeout s pass), DELETEs the session
and prints one JSON line:

  {"timingsMs": {"offer": ..., "answer": ..., "firstFrame": ..., "done": ...}, "status": 201, "location": "...", "etag": "...", "frames": 30,
   "width": 640, "height": 360, "codec": "video/VP8", "error": null}

Exit code 0 when --frames frames were decoded, 1 otherwise (an HTTP error
prints its status and body as "error").

Usage: whep_client.py URL TOKEN [--frames N] [--timeout S] [--codec VP8|H264]
"""
import argparse
import asyncio
import json
import re
import time
import sys
import urllib.error
import urllib.request
from urllib.parse import urljoin

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription


def http(method, url, body=None, headers=None):
    """One HTTP request (stdlib); returns (status, headers, body text)."""
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, res.headers, res.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read().decode()


async def play(args):
    t0 = time.monotonic()
    ms = lambda: round((time.monotonic() - t0) * 1000)
    out = {"timingsMs": {}, "status": None, "location": None, "etag": None, "frames": 0, "width": None, "height": None, "codec": None, "error": None}
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    if args.codec:
        # Offer one codec only (the player's choice): tests the answer at the offer's payload types.
        caps = RTCRtpSender.getCapabilities("video")
        transceiver.setCodecPreferences([c for c in caps.codecs if c.mimeType.lower() in (f"video/{args.codec.lower()}", "video/rtx")])
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def consume():
            while out["frames"] < args.frames:
                try:
                    frame = await track.recv()
                except Exception:
                    break
                out["frames"] += 1
                if out["frames"] == 1:
                    out["timingsMs"]["firstFrame"] = ms()
                out["width"], out["height"] = frame.width, frame.height
            done.set()

        asyncio.ensure_future(consume())

    # aiortc gathers every candidate in setLocalDescription (no trickle).
    await pc.setLocalDescription(await pc.createOffer())
    out["timingsMs"]["offer"] = ms()
    status, headers, body = http("POST", args.url, pc.localDescription.sdp, {"Content-Type": "application/sdp", "Authorization": f"Bearer {args.token}"})
    out["status"] = status
    if status != 201:
        out["error"] = body[:500]
        await pc.close()
        return out
    out["timingsMs"]["answer"] = ms()
    out["location"] = urljoin(args.url, headers.get("Location"))
    out["etag"] = headers.get("ETag")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
    codec = re.search(r"^a=rtpmap:\d+ ([\w-]+)/", body, re.M)
    out["codec"] = f"video/{codec.group(1)}" if codec else None
    try:
        await asyncio.wait_for(done.wait(), args.timeout)
    except asyncio.TimeoutError:
        out["error"] = f"timeout after {args.timeout} s"
    out["timingsMs"]["done"] = ms()
    # End the session first (RFC 9725 section 4.2: DELETE), then the peer connection.
    out["deleted"] = http("DELETE", out["location"])[0]
    await pc.close()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("--frames", type=int, default=30)
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--codec", choices=["VP8", "H264"])
    args = p.parse_args()
    out = asyncio.run(play(args))
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["frames"] >= args.frames else 1)


if __name__ == "__main__":
    main()
