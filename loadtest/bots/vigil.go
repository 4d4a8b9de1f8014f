package main

// Vigil's signaling protocol (protocol/src/schema.ts) as a bot speaks it:
//
//	join -> getRouterRtpCapabilities -> createRecvTransport -> consume (paused)
//	-> connectTransport (our DTLS fingerprint, role client) -> resumeConsumer
//
// mediasoup does not speak SDP; like mediasoup-client, the bot builds the
// server's "offer" from the transport's ICE/DTLS parameters and the
// consumer's RTP parameters (mediasoup's receive flow,
// https://mediasoup.org/documentation/v3/communication-between-client-and-server/),
// and lets Pion answer it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
)

// protocolVersion is PROTOCOL_VERSION of @vigil/protocol.
const protocolVersion = 1

// vigilOptions says where and as whom bots join.
type vigilOptions struct {
	url      string // Vigil base URL, http(s)://host:port
	camera   string
	quality  string // "high" or "low"
	token    string // a viewer JWT for every bot, or "" to sign one per bot
	secret   string // HS256 secret to sign per-bot tokens with
	issuer   string
	audience string
	ttl      time.Duration
	// headerExtensions: offer the RTP header extensions Chromium receives
	// video with (mid, abs-send-time, transport-wide-cc, toffset,
	// video-orientation), so the server negotiates and runs per viewer what
	// it would for a browser (e.g. transport-cc feedback and send-side
	// bandwidth estimation, if it keeps them); false: none (media only).
	headerExtensions bool
}

// browserVideoExtensions are the RTP header extension URIs Chromium offers
// for a received video track that mediasoup's router also supports (see
// mediasoup's supportedRtpCapabilities and RFC 8285 for the mechanism).
var browserVideoExtensions = map[string]bool{
	"urn:ietf:params:rtp-hdrext:sdes:mid":                                       true, // RFC 8843
	"http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time":                true,
	"http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01": true,
	"urn:ietf:params:rtp-hdrext:toffset":                                        true, // RFC 5450
	"urn:3gpp:video-orientation":                                                true, // 3GPP TS 26.114
}

// rpc is one WebSocket connection with request/response matching by id.
type rpc struct {
	conn    *websocket.Conn
	writeMu sync.Mutex
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan rpcResponse
	closed  chan struct{}
}

type rpcResponse struct {
	ID    *int            `json:"id"`
	OK    bool            `json:"ok"`
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Notification string `json:"notification"`
}

func dialRPC(ctx context.Context, baseURL string) (*rpc, error) {
	wsURL := strings.Replace(strings.TrimRight(baseURL, "/"), "http", "ws", 1) + "/ws"
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("websocket: HTTP %d", resp.StatusCode)
		}
		return nil, fmt.Errorf("websocket: %w", err)
	}
	r := &rpc{conn: conn, waiting: map[int]chan rpcResponse{}, closed: make(chan struct{})}
	go r.readLoop()
	return r, nil
}

func (r *rpc) readLoop() {
	defer close(r.closed)
	for {
		var msg rpcResponse
		if err := r.conn.ReadJSON(&msg); err != nil {
			return
		}
		if msg.Notification != "" || msg.ID == nil {
			continue
		}
		r.mu.Lock()
		ch := r.waiting[*msg.ID]
		delete(r.waiting, *msg.ID)
		r.mu.Unlock()
		if ch != nil {
			ch <- msg
		}
	}
}

// call sends a request and decodes the response's data into out (may be nil).
// Errors: a refusal ("<type>: <code>"), a timeout, a closed connection.
func (r *rpc) call(typ string, fields map[string]any, out any, timeout time.Duration) error {
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	ch := make(chan rpcResponse, 1)
	r.waiting[id] = ch
	r.mu.Unlock()
	msg := map[string]any{"id": id, "type": typ}
	for k, v := range fields {
		msg[k] = v
	}
	r.writeMu.Lock()
	err := r.conn.WriteJSON(msg)
	r.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", typ, err)
	}
	select {
	case resp := <-ch:
		if !resp.OK {
			code := "refused"
			if resp.Error != nil {
				code = resp.Error.Code
			}
			return fmt.Errorf("%s: %s", typ, code)
		}
		if out != nil {
			return json.Unmarshal(resp.Data, out)
		}
		return nil
	case <-r.closed:
		return fmt.Errorf("%s: connection closed", typ)
	case <-time.After(timeout):
		return fmt.Errorf("%s: no answer within %s", typ, timeout)
	}
}

func (r *rpc) close() {
	_ = r.conn.Close()
}

// mediasoup shapes (mediasoup's RtpParameters, IceParameters, IceCandidate, DtlsParameters).
type msCodec struct {
	MimeType     string         `json:"mimeType"`
	Kind         string         `json:"kind,omitempty"`
	PayloadType  int            `json:"payloadType"`
	PreferredPT  int            `json:"preferredPayloadType,omitempty"`
	ClockRate    int            `json:"clockRate"`
	Channels     int            `json:"channels,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	RTCPFeedback []struct {
		Type      string `json:"type"`
		Parameter string `json:"parameter"`
	} `json:"rtcpFeedback,omitempty"`
}

type msTransport struct {
	ID            string `json:"id"`
	IceParameters struct {
		UsernameFragment string `json:"usernameFragment"`
		Password         string `json:"password"`
	} `json:"iceParameters"`
	IceCandidates []struct {
		Foundation string `json:"foundation"`
		Priority   uint32 `json:"priority"`
		Address    string `json:"address"`
		IP         string `json:"ip"`
		Port       int    `json:"port"`
		Protocol   string `json:"protocol"`
		Type       string `json:"type"`
	} `json:"iceCandidates"`
	DtlsParameters struct {
		Fingerprints []struct {
			Algorithm string `json:"algorithm"`
			Value     string `json:"value"`
		} `json:"fingerprints"`
	} `json:"dtlsParameters"`
}

type msConsumer struct {
	ConsumerID    string `json:"consumerId"`
	RtpParameters struct {
		Mid              string    `json:"mid"`
		Codecs           []msCodec `json:"codecs"`
		HeaderExtensions []struct {
			URI string `json:"uri"`
			ID  int    `json:"id"`
		} `json:"headerExtensions"`
		Encodings []struct {
			SSRC uint32 `json:"ssrc"`
		} `json:"encodings"`
		RTCP struct {
			CNAME string `json:"cname"`
		} `json:"rtcp"`
	} `json:"rtpParameters"`
}

// vigilToken is the token for bot n: the shared one, or an HS256 viewer
// token (claims as server/src/auth/tokens.ts reads them) with a subject
// per bot, so per-subject quotas and rate limits see distinct viewers.
func vigilToken(o vigilOptions, n int) (string, error) {
	if o.token != "" {
		return o.token, nil
	}
	if o.secret == "" {
		return "", errors.New("no token: set VIGIL_TOKEN, or VIGIL_SECRET to sign one per bot")
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"sub": fmt.Sprintf("vigil-bot-%d", n), "cameras": []string{o.camera},
		"iss": o.issuer, "aud": o.audience, "iat": now.Unix(), "exp": now.Add(o.ttl).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(o.secret))
}

// runVigilBot connects bot n to Vigil and keeps it receiving until ctx ends.
// Returns once the consumer is resumed (media flowing) or with the first error;
// the session then lives until ctx is done.
func runVigilBot(ctx context.Context, o vigilOptions, n int, c *counters, vo viewerOptions, timeout time.Duration) (func(), error) {
	token, err := vigilToken(o, n)
	if err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dialRPC(dialCtx, o.url)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (func(), error) { conn.close(); return nil, err }
	if err := conn.call("join", map[string]any{"protocolVersion": protocolVersion, "token": token}, nil, timeout); err != nil {
		return fail(err)
	}
	var caps struct {
		RtpCapabilities struct {
			Codecs           []msCodec        `json:"codecs"`
			HeaderExtensions []map[string]any `json:"headerExtensions"`
		} `json:"rtpCapabilities"`
	}
	if err := conn.call("getRouterRtpCapabilities", nil, &caps, timeout); err != nil {
		return fail(err)
	}
	var transport msTransport
	if err := conn.call("createRecvTransport", map[string]any{"cameraId": o.camera}, &transport, timeout); err != nil {
		return fail(err)
	}
	// The bot's capabilities: the router's video codecs without retransmission
	// formats, and the header extensions a browser offers (or none).
	var mine []msCodec
	for _, codec := range caps.RtpCapabilities.Codecs {
		if codec.Kind == "video" && !strings.HasSuffix(strings.ToLower(codec.MimeType), "/rtx") {
			mine = append(mine, codec)
		}
	}
	exts := []map[string]any{}
	if o.headerExtensions {
		for _, ext := range caps.RtpCapabilities.HeaderExtensions {
			if uri, _ := ext["uri"].(string); ext["kind"] == "video" && browserVideoExtensions[uri] {
				exts = append(exts, ext)
			}
		}
	}
	rtpCaps := map[string]any{"codecs": mine, "headerExtensions": exts}
	var consumer msConsumer
	if err := conn.call("consume", map[string]any{"transportId": transport.ID, "cameraId": o.camera, "rtpCapabilities": rtpCaps, "quality": o.quality}, &consumer, timeout); err != nil {
		return fail(err)
	}
	offer, err := mediasoupOffer(transport, consumer)
	if err != nil {
		return fail(err)
	}
	debugf("vigil offer:\n%s", offer)
	v, err := newViewer(offer, c, vo)
	if err != nil {
		return fail(err)
	}
	closeAll := func() {
		v.close()
		_ = conn.call("leave", nil, nil, time.Second)
		conn.close()
	}
	fps, err := v.fingerprints()
	if err != nil {
		closeAll()
		return nil, err
	}
	// mediasoup compares fingerprints as upper-case hex, as browsers write
	// them (RFC 8122 §5 allows either case); Pion writes lower case.
	for i := range fps {
		fps[i].Value = strings.ToUpper(fps[i].Value)
	}
	// Our DTLS role is client ("setup:active" in the answer); mediasoup takes
	// the server role. Sent before the answer so the ClientHello finds the
	// transport connected.
	if err := conn.call("connectTransport", map[string]any{"transportId": transport.ID, "dtlsParameters": map[string]any{"role": "client", "fingerprints": fps}}, nil, timeout); err != nil {
		closeAll()
		return nil, err
	}
	if _, err := v.answer(offer, timeout); err != nil {
		closeAll()
		return nil, err
	}
	if err := conn.call("resumeConsumer", map[string]any{"consumerId": consumer.ConsumerID}, nil, timeout); err != nil {
		closeAll()
		return nil, err
	}
	go func() {
		select {
		case <-conn.closed:
			c.fail(errors.New("signaling connection closed"))
		case <-ctx.Done():
		}
	}()
	return closeAll, nil
}

// mediasoupOffer writes the SDP offer (RFC 8866) a browser would get from
// mediasoup-client for one video consumer on an ICE-lite (RFC 8445 §2.5)
// WebRtcTransport: one BUNDLE'd sendonly m-section, rtcp-mux (RFC 5761),
// reduced-size RTCP (RFC 5506), the consumer's SSRC and codec.
func mediasoupOffer(t msTransport, c msConsumer) (string, error) {
	if len(c.RtpParameters.Codecs) == 0 || len(c.RtpParameters.Encodings) == 0 {
		return "", errors.New("consumer has no codec or encoding")
	}
	if len(t.DtlsParameters.Fingerprints) == 0 {
		return "", errors.New("transport has no DTLS fingerprint")
	}
	mid := c.RtpParameters.Mid
	if mid == "" {
		mid = "0"
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	line("v=0")
	line("o=- %d 1 IN IP4 0.0.0.0", time.Now().UnixNano()%1_000_000_000)
	line("s=-")
	line("t=0 0")
	line("a=ice-lite")
	line("a=group:BUNDLE %s", mid)
	line("a=msid-semantic: WMS *")
	var pts []string
	var codecs []msCodec
	for _, codec := range c.RtpParameters.Codecs {
		if strings.HasSuffix(strings.ToLower(codec.MimeType), "/rtx") {
			continue
		}
		pts = append(pts, fmt.Sprint(codec.PayloadType))
		codecs = append(codecs, codec)
	}
	line("m=video 7 UDP/TLS/RTP/SAVPF %s", strings.Join(pts, " "))
	line("c=IN IP4 127.0.0.1")
	line("a=mid:%s", mid)
	line("a=sendonly")
	line("a=ice-ufrag:%s", t.IceParameters.UsernameFragment)
	line("a=ice-pwd:%s", t.IceParameters.Password)
	for _, fp := range t.DtlsParameters.Fingerprints {
		if fp.Algorithm == "sha-256" {
			line("a=fingerprint:%s %s", fp.Algorithm, fp.Value)
		}
	}
	line("a=setup:actpass")
	for _, cand := range t.IceCandidates {
		if strings.ToLower(cand.Protocol) != "udp" {
			continue
		}
		addr := cand.Address
		if addr == "" {
			addr = cand.IP
		}
		line("a=candidate:%s 1 udp %d %s %d typ %s", cand.Foundation, cand.Priority, addr, cand.Port, cand.Type)
	}
	line("a=end-of-candidates")
	for _, ext := range c.RtpParameters.HeaderExtensions {
		line("a=extmap:%d %s", ext.ID, ext.URI) // RFC 8285 §8
	}
	line("a=rtcp-mux")
	line("a=rtcp-rsize")
	for _, codec := range codecs {
		name := strings.TrimPrefix(codec.MimeType, "video/")
		line("a=rtpmap:%d %s/%d", codec.PayloadType, name, codec.ClockRate)
		if len(codec.Parameters) > 0 {
			keys := make([]string, 0, len(codec.Parameters))
			for k := range codec.Parameters {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, 0, len(keys))
			for _, k := range keys {
				parts = append(parts, k+"="+fmtpValue(codec.Parameters[k]))
			}
			line("a=fmtp:%d %s", codec.PayloadType, strings.Join(parts, ";"))
		}
		for _, fb := range codec.RTCPFeedback {
			if fb.Parameter != "" {
				line("a=rtcp-fb:%d %s %s", codec.PayloadType, fb.Type, fb.Parameter)
			} else {
				line("a=rtcp-fb:%d %s", codec.PayloadType, fb.Type)
			}
		}
	}
	ssrc := c.RtpParameters.Encodings[0].SSRC
	cname := c.RtpParameters.RTCP.CNAME
	if cname == "" {
		cname = "vigil"
	}
	line("a=ssrc:%d cname:%s", ssrc, cname)
	line("a=ssrc:%d msid:vigil %s", ssrc, c.ConsumerID)
	line("a=msid:vigil %s", c.ConsumerID)
	return b.String(), nil
}

// fmtpValue writes a JSON-decoded fmtp parameter value as SDP text (numbers without exponent).
func fmtpValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
