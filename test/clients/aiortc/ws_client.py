"""A viewer on aiortc that speaks Vigil's own SDK protocol over the WebSocket
(protocol/ in this repository: join, createRecvTransport, consume,
connectTransport, resumeConsumer, leave), without mediasoup-client: an
independent WebRTC stack (Python; libvpx and FFmpeg through PyAV) playing a
camera the way the browser SDK does, so the server is not tuned to one
browser's quirks.

As in mediasoup-client, the server side offers: the SDP offer is written here
from the transport's ICE/DTLS parameters and the consumer's RTP parameters
(ICE-lite, sendonly, the consumer's SSRC and payload types; RFC 3264, RFC 8829),
aiortc answers (DTLS client: setup active), and its fingerprint goes to
connectTransport. Decodes video until --frames frames (or --timeout s), then
sends leave and prints one JSON line:

  {"frames": 15, "width": 640, "height": 360, "codec": "video/VP8",
   "joined": true, "error": null}

Exit code 0 when --frames frames were decoded, 1 otherwise.

Usage: ws_client.py WS_URL TOKEN CAMERA [--frames N] [--timeout S]
"""
import argparse
import asyncio
import json
import re
import sys

import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription

PROTOCOL_VERSION = 1
# Codecs aiortc decodes, and the header extension it demuxes bundled media by (RFC 8843).
CODECS = {"video/vp8", "video/h264", "video/rtx"}
EXTENSIONS = {"urn:ietf:params:rtp-hdrext:sdes:mid"}


class Signaling:
    """Requests with ids over one WebSocket; notifications are kept aside."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 1
        self.notifications = []

    async def request(self, type_, **data):
        rid = self.next_id
        self.next_id += 1
        await self.ws.send(json.dumps({"id": rid, "type": type_, **data}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == rid:
                if not msg.get("ok"):
                    raise RuntimeError(f"{type_} refused: {msg.get('error')}")
                return msg.get("data", {})
            if "notification" in msg:
                self.notifications.append(msg)


def offer_sdp(transport, consumer):
    """The server's offer for one consumer (what mediasoup-client's RemoteSdp writes)."""
    ice, dtls, rtp = transport["iceParameters"], transport["dtlsParameters"], consumer["rtpParameters"]
    fp = next((f for f in dtls["fingerprints"] if f["algorithm"] == "sha-256"), dtls["fingerprints"][0])
    mid = rtp.get("mid", "0")
    pts = " ".join(str(c["payloadType"]) for c in rtp["codecs"])
    lines = [
        "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=ice-lite", f"a=group:BUNDLE {mid}", "a=msid-semantic: WMS *",
        f"a=fingerprint:{fp['algorithm']} {fp['value']}",
        f"m=video 7 UDP/TLS/RTP/SAVPF {pts}", "c=IN IP4 127.0.0.1", f"a=mid:{mid}", "a=sendonly",
        f"a=ice-ufrag:{ice['usernameFragment']}", f"a=ice-pwd:{ice['password']}", "a=setup:actpass", "a=rtcp-mux", "a=rtcp-rsize",
    ]
    for c in rtp["codecs"]:
        lines.append(f"a=rtpmap:{c['payloadType']} {c['mimeType'].split('/')[1]}/{c['clockRate']}")
        if c.get("parameters"):
            lines.append(f"a=fmtp:{c['payloadType']} " + ";".join(f"{k}={v}" for k, v in c["parameters"].items()))
        for fb in c.get("rtcpFeedback", []):
            lines.append(f"a=rtcp-fb:{c['payloadType']} {fb['type']}" + (f" {fb['parameter']}" if fb.get("parameter") else ""))
    for e in rtp.get("headerExtensions", []):
        lines.append(f"a=extmap:{e['id']} {e['uri']}")
    enc = rtp["encodings"][0]
    cname = rtp.get("rtcp", {}).get("cname", "vigil")
    msid = f"vigil {consumer['consumerId']}"
    lines += [f"a=msid:{msid}", f"a=ssrc:{enc['ssrc']} cname:{cname}", f"a=ssrc:{enc['ssrc']} msid:{msid}"]
    if enc.get("rtx"):
        rtx = enc["rtx"]["ssrc"]
        lines += [f"a=ssrc:{rtx} cname:{cname}", f"a=ssrc:{rtx} msid:{msid}", f"a=ssrc-group:FID {enc['ssrc']} {rtx}"]
    for c in transport["iceCandidates"]:
        tcp = f" tcptype {c.get('tcpType', 'passive')}" if c["protocol"] == "tcp" else ""
        lines.append(f"a=candidate:{c['foundation']} 1 {c['protocol']} {c['priority']} {c.get('address') or c.get('ip')} {c['port']} typ {c['type']}{tcp}")
    lines.append("a=end-of-candidates")
    return "\r\n".join(lines) + "\r\n"


async def play(args):
    out = {"frames": 0, "width": None, "height": None, "codec": None, "joined": False, "error": None}
    pc = RTCPeerConnection()
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
                out["width"], out["height"] = frame.width, frame.height
            done.set()

        asyncio.ensure_future(consume())

    try:
        async with websockets.connect(args.url, max_size=2**20) as ws:
            sig = Signaling(ws)
            await sig.request("join", protocolVersion=PROTOCOL_VERSION, token=args.token)
            out["joined"] = True
            router = (await sig.request("getRouterRtpCapabilities"))["rtpCapabilities"]
            caps = {
                "codecs": [c for c in router["codecs"] if c["mimeType"].lower() in CODECS],
                "headerExtensions": [e for e in router["headerExtensions"] if e["uri"] in EXTENSIONS],
            }
            transport = await sig.request("createRecvTransport", cameraId=args.camera)
            consumer = await sig.request("consume", transportId=transport["id"], cameraId=args.camera, quality="high", rtpCapabilities=caps)
            out["codec"] = consumer["rtpParameters"]["codecs"][0]["mimeType"]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp(transport, consumer), type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            answer = pc.localDescription.sdp
            fp = re.search(r"^a=fingerprint:(\S+) (\S+)", answer, re.M)
            setup = re.search(r"^a=setup:(\w+)", answer, re.M).group(1)
            # aiortc answers actpass with active: it is the DTLS client (RFC 5763 section 5).
            role = "client" if setup == "active" else "server"
            await sig.request("connectTransport", transportId=transport["id"],
                              dtlsParameters={"role": role, "fingerprints": [{"algorithm": fp.group(1), "value": fp.group(2).upper()}]})
            await sig.request("resumeConsumer", consumerId=consumer["consumerId"])
            try:
                await asyncio.wait_for(done.wait(), args.timeout)
            except asyncio.TimeoutError:
                out["error"] = f"timeout after {args.timeout} s"
            await sig.request("leave")
    except Exception as err:  # a refusal or a dropped socket: reported, not raised
        out["error"] = str(err)[:500]
    await pc.close()
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("url")
    p.add_argument("token")
    p.add_argument("camera")
    p.add_argument("--frames", type=int, default=15)
    p.add_argument("--timeout", type=float, default=30)
    args = p.parse_args()
    out = asyncio.run(play(args))
    print(json.dumps(out), flush=True)
    sys.exit(0 if out["frames"] >= args.frames else 1)


if __name__ == "__main__":
    main()
