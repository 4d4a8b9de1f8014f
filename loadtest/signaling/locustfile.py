"""
Vigil signaling load for Locust (https://docs.locust.io).

A viewer session speaks Vigil's real protocol over one WebSocket
(protocol/src/schema.ts):

    connect -> join -> getRouterRtpCapabilities -> createRecvTransport
    -> consume (paused) -> hold/2 -> refresh -> hold/2 -> leave

Each request's round trip is a Locust request event (type "WS", name = the
message type, response time in ms), so Locust's statistics, CSV/HTML reports
and thresholds apply to every message. Transports and consumers are real
mediasoup objects on the server; no media flows (no DTLS), which is what the
media bots (loadtest/bots) are for.

Open arrival model: sessions arrive at --join-rate per second in all, whatever
the server's latency (each Locust user is an arrival source that starts every
session in its own greenlet, so a slow server gets a queue, not fewer
arrivals); --max-sessions bounds the open sessions per Locust process
(an arrival beyond it is a failure named "arrival (over max-sessions)").

Tokens: HS256 viewer JWTs (RFC 7519) signed here with VIGIL_SECRET (read from
the environment, never a flag), a subject per session, scoped to the camera.

Thresholds fail the run (exit code 1, checked on the master in distributed
mode): --max-fail-ratio, --max-p95-join-ms, --max-p95-consume-ms.

    VIGIL_SECRET=... locust -f loadtest/signaling/locustfile.py --headless \
        --host http://127.0.0.1:8080 -u 4 -r 4 -t 30s --vigil-camera cam-1 --join-rate 10 --hold 5
"""

import itertools
import json
import os
import time

import gevent
import jwt
import websocket
from gevent.lock import Semaphore
from locust import User, events, task

PROTOCOL_VERSION = 1  # @vigil/protocol PROTOCOL_VERSION


@events.init_command_line_parser.add_listener
def _add_arguments(parser):
    parser.add_argument("--vigil-camera", default="cam-1", help="camera id every session consumes")
    parser.add_argument("--join-rate", type=float, default=5.0, help="new sessions per second, all users together (open model)")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds a session stays joined with its consumer")
    parser.add_argument("--max-sessions", type=int, default=1000, help="most open sessions per Locust process")
    parser.add_argument("--vigil-issuer", default="vigil", help="token iss claim")
    parser.add_argument("--vigil-audience", default="vigil-viewer", help="token aud claim")
    parser.add_argument("--request-timeout", type=float, default=10.0, help="seconds to wait for a response")
    parser.add_argument("--max-fail-ratio", type=float, default=0.01, help="fail the run above this share of failed requests")
    parser.add_argument("--max-p95-join-ms", type=float, default=1000.0, help="fail the run when join p95 is above (ms)")
    parser.add_argument("--max-p95-consume-ms", type=float, default=1000.0, help="fail the run when consume p95 is above (ms)")


_session_ids = itertools.count()


class ProtocolRefusal(Exception):
    """A request answered with ok: false (carries the protocol error code)."""


class Session:
    """One viewer session: a WebSocket and request/response matching by id."""

    def __init__(self, environment, ws_url, timeout):
        self.environment = environment
        self.timeout = timeout
        self.next_id = 0
        self.ws = None
        self.ws_url = ws_url

    def _fire(self, name, started, length, exc):
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exc,
            context={},
        )

    def connect(self):
        started = time.perf_counter()
        try:
            self.ws = websocket.create_connection(self.ws_url, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is the event's exception
            self._fire("connect", started, 0, exc)
            raise
        self._fire("connect", started, 0, None)

    def request(self, type_, closes=False, **fields):
        """Sends one request and waits for its response; returns `data`.
        Raises ProtocolRefusal (ok: false) or the transport's error; either is
        recorded as a failed request event. With `closes` (`leave`: Vigil
        answers, then closes the socket), a close seen before the answer also
        ends the request."""
        self.next_id += 1
        rid = self.next_id
        started = time.perf_counter()
        length = 0
        try:
            self.ws.send(json.dumps({"id": rid, "type": type_, **fields}))
            while True:
                try:
                    frame = self.ws.recv()
                except websocket.WebSocketConnectionClosedException:
                    frame = ""
                if frame == "" and closes:
                    msg = {"id": rid, "ok": True, "data": {}}
                    break
                msg = json.loads(frame)
                if msg.get("id") == rid:
                    length = len(frame)
                    break
                # notifications (cameraState, ...) and other ids are skipped
            if not msg.get("ok"):
                raise ProtocolRefusal((msg.get("error") or {}).get("code", "refused"))
        except Exception as exc:  # noqa: BLE001
            self._fire(type_, started, length, exc)
            raise
        self._fire(type_, started, length, None)
        return msg.get("data")

    def close(self):
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:  # noqa: BLE001
                pass


class VigilViewer(User):
    """An arrival source: starts sessions at its share of --join-rate."""

    def on_start(self):
        opts = self.environment.parsed_options
        self.secret = os.environ.get("VIGIL_SECRET", "")
        if not self.secret:
            raise RuntimeError("set VIGIL_SECRET (the HS256 auth.secret) in the environment")
        self.opts = opts
        host = self.host or self.environment.host
        self.ws_url = host.replace("http", "ws", 1).rstrip("/") + "/ws"
        self.slots = _slots(self.environment, opts.max_sessions)

    def token(self, subject):
        now = int(time.time())
        claims = {
            "sub": subject,
            "cameras": [self.opts.vigil_camera],
            "iss": self.opts.vigil_issuer,
            "aud": self.opts.vigil_audience,
            "iat": now,
            "exp": now + int(self.opts.hold) + 300,
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    @task
    def arrivals(self):
        users = max(1, self.environment.parsed_options.num_users or 1)
        interval = users / max(self.opts.join_rate, 0.001)
        next_at = time.monotonic()
        while True:
            next_at += interval
            if self.slots.acquire(blocking=False):
                gevent.spawn(self.session)
            else:
                self.environment.events.request.fire(
                    request_type="WS", name="arrival (over max-sessions)", response_time=0, response_length=0,
                    exception=RuntimeError("too many open sessions"), context={},
                )
            gevent.sleep(max(0.0, next_at - time.monotonic()))

    def session(self):
        opts = self.opts
        subject = f"locust-{os.getpid()}-{next(_session_ids)}"
        s = Session(self.environment, self.ws_url, opts.request_timeout)
        try:
            s.connect()
            s.request("join", protocolVersion=PROTOCOL_VERSION, token=self.token(subject))
            caps = s.request("getRouterRtpCapabilities")["rtpCapabilities"]
            transport = s.request("createRecvTransport", cameraId=opts.vigil_camera)
            video = [c for c in caps["codecs"] if c.get("kind") == "video" and not c["mimeType"].lower().endswith("/rtx")]
            s.request(
                "consume",
                transportId=transport["id"],
                cameraId=opts.vigil_camera,
                rtpCapabilities={"codecs": video, "headerExtensions": []},
            )
            gevent.sleep(opts.hold / 2)
            s.request("refresh", token=self.token(subject))
            gevent.sleep(opts.hold / 2)
            s.request("leave", closes=True)
        except Exception:  # noqa: BLE001 - already recorded as a failed request event
            pass
        finally:
            s.close()
            self.slots.release()


def _slots(environment, n):
    """One semaphore per Locust process bounding its open sessions."""
    if not hasattr(environment, "vigil_slots"):
        environment.vigil_slots = Semaphore(n)
    return environment.vigil_slots


@events.quitting.add_listener
def _thresholds(environment, **_kwargs):
    """Fails the run (exit code 1) when a threshold is crossed; runs where the
    statistics are aggregated (the master, or a standalone process)."""
    opts = environment.parsed_options
    if opts is None or getattr(opts, "worker", False):
        return
    stats = environment.stats
    problems = []
    if stats.total.num_requests == 0:
        problems.append("no requests were made")
    elif stats.total.fail_ratio > opts.max_fail_ratio:
        problems.append(f"fail ratio {stats.total.fail_ratio:.3f} > {opts.max_fail_ratio}")
    for name, limit in (("join", opts.max_p95_join_ms), ("consume", opts.max_p95_consume_ms)):
        entry = stats.entries.get((name, "WS"))
        if entry is None or entry.num_requests - entry.num_failures == 0:
            problems.append(f"no successful {name}")
        elif entry.get_response_time_percentile(0.95) > limit:
            problems.append(f"{name} p95 {entry.get_response_time_percentile(0.95):.0f} ms > {limit:.0f} ms")
    if problems:
        print("[vigil locust] thresholds failed: " + "; ".join(problems), flush=True)
        environment.process_exit_code = 1
