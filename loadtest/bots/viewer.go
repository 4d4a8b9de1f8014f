package main

// A viewer: one Pion PeerConnection that receives one video track and counts
// what arrives without decoding it.
//
// The signaling side (Vigil or Janus) hands the viewer an SDP offer (RFC 8866,
// offer/answer per RFC 3264 / JSEP RFC 8829); the viewer answers as a
// browser would: full ICE agent (RFC 8445) on loopback UDP, DTLS client
// (RFC 5763 "setup:active"), SRTP (RFC 3711), and Pion's default
// interceptors for the receiver's RTCP: receiver reports (RFC 3550 §6.4.2),
// NACK (RFC 4585 §6.2.1) and transport-wide congestion control feedback.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// viewerOptions are what every viewer of a run shares.
type viewerOptions struct {
	// freeze: a gap between frames longer than this is a freeze.
	freeze time.Duration
	// allowNet: ICE may also use local addresses in this network (e.g. a
	// network namespace's own interface); nil: loopback only.
	allowNet *net.IPNet
}

// viewer is one WebRTC receiver and its counters.
type viewer struct {
	pc       *webrtc.PeerConnection
	counters *counters
	// certificate is the DTLS certificate, known before the answer so its
	// fingerprint can be sent to a server that needs it first (mediasoup's connect()).
	certificate webrtc.Certificate
}

// newViewer creates the PeerConnection for one bot, restricted to IPv4 UDP on
// loopback addresses (and o.allowNet), with the codecs the
// offer carries registered exactly as offered (payload type and fmtp), so the
// answer accepts what the server sends.
//
// Errors: certificate generation, codec registration, PeerConnection creation.
func newViewer(offer string, c *counters, o viewerOptions) (*viewer, error) {
	freeze, allowNet := o.freeze, o.allowNet
	codecs, err := videoCodecsOf(offer)
	if err != nil {
		return nil, err
	}
	media := &webrtc.MediaEngine{}
	for _, codec := range codecs {
		if err := media.RegisterCodec(codec, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("register codec %s: %w", codec.MimeType, err)
		}
	}
	registry := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(media, registry); err != nil {
		return nil, err
	}
	settings := webrtc.SettingEngine{}
	settings.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	settings.SetIncludeLoopbackCandidate(true)
	settings.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() || (allowNet != nil && allowNet.Contains(ip)) })
	settings.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// DTLS client ("a=setup:active", RFC 5763 §5), as browsers answer; Pion
	// would otherwise take the server role towards an ICE-lite offerer.
	if err := settings.SetAnsweringDTLSRole(webrtc.DTLSRoleClient); err != nil {
		return nil, err
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(media), webrtc.WithInterceptorRegistry(registry), webrtc.WithSettingEngine(settings))

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		return nil, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{Certificates: []webrtc.Certificate{*cert}})
	if err != nil {
		return nil, err
	}
	v := &viewer{pc: pc, counters: c, certificate: *cert}
	pc.OnTrack(func(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
		// Drain incoming RTCP (sender reports) so the interceptors see it.
		go func() {
			for {
				if _, _, err := receiver.ReadRTCP(); err != nil {
					return
				}
			}
		}()
		keyframe := keyframeDetector(track.Codec().MimeType)
		for {
			pkt, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			c.onPacket(pkt, keyframe(pkt.Payload), freeze)
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			c.markConnected()
		case webrtc.PeerConnectionStateFailed:
			c.fail(errors.New("peer connection failed"))
		}
	})
	return v, nil
}

// fingerprints is the DTLS certificate's fingerprints (RFC 8122 §5).
func (v *viewer) fingerprints() ([]webrtc.DTLSFingerprint, error) {
	return v.certificate.GetFingerprints()
}

// answer applies the offer and returns the complete answer SDP (every ICE
// candidate gathered, no trickle), already set as the local description.
// The answer takes the DTLS client role ("a=setup:active"). Errors: bad offer, gathering or description failures.
func (v *viewer) answer(offer string, timeout time.Duration) (string, error) {
	if err := v.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("set offer: %w", err)
	}
	ans, err := v.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(v.pc)
	if err := v.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-time.After(timeout):
		return "", errors.New("ICE gathering timed out")
	}
	return v.pc.LocalDescription().SDP, nil
}

func (v *viewer) close() {
	_ = v.pc.Close()
}

// videoCodecsOf lists the video codecs of the offer's first video m-section
// (rtpmap, fmtp and rtcp-fb per payload type, RFC 8866 §6.6, RFC 4585 §4.2),
// leaving out retransmission and FEC formats (rtx, red, ulpfec): the bots
// count the media stream only.
func videoCodecsOf(offer string) ([]webrtc.RTPCodecParameters, error) {
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offer); err != nil {
		return nil, fmt.Errorf("parse offer: %w", err)
	}
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media != "video" {
			continue
		}
		var out []webrtc.RTPCodecParameters
		for _, f := range m.MediaName.Formats {
			var pt uint8
			if _, err := fmt.Sscan(f, &pt); err != nil {
				continue
			}
			codec, err := desc.GetCodecForPayloadType(pt)
			if err != nil {
				continue
			}
			name := strings.ToLower(codec.Name)
			if name == "rtx" || name == "red" || name == "ulpfec" || name == "flexfec-03" {
				continue
			}
			var feedback []webrtc.RTCPFeedback
			for _, fb := range codec.RTCPFeedback {
				typ, param, _ := strings.Cut(fb, " ")
				feedback = append(feedback, webrtc.RTCPFeedback{Type: typ, Parameter: param})
			}
			out = append(out, webrtc.RTPCodecParameters{
				RTPCodecCapability: webrtc.RTPCodecCapability{
					MimeType:     "video/" + codec.Name,
					ClockRate:    codec.ClockRate,
					SDPFmtpLine:  codec.Fmtp,
					RTCPFeedback: feedback,
				},
				PayloadType: webrtc.PayloadType(pt),
			})
		}
		if len(out) == 0 {
			return nil, errors.New("offer has no usable video codec")
		}
		return out, nil
	}
	return nil, errors.New("offer has no video m-section")
}

// keyframeDetector returns a function telling whether an RTP payload starts
// or carries a keyframe, by codec, without decoding:
//   - H.264 (RFC 6184): NAL unit type 5 (IDR) or 7 (SPS), directly, inside
//     STAP-A (type 24) or as the start of an FU-A (type 28) fragment;
//   - VP8 (RFC 7741 §4.3): start of a partition with the P bit clear in the
//     first byte of the VP8 payload header;
//   - anything else: never (frames are still counted).
func keyframeDetector(mimeType string) func([]byte) bool {
	switch strings.ToLower(mimeType) {
	case strings.ToLower(webrtc.MimeTypeH264):
		return h264Keyframe
	case strings.ToLower(webrtc.MimeTypeVP8):
		return vp8Keyframe
	}
	return func([]byte) bool { return false }
}

func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	isKey := func(t byte) bool { return t == 5 || t == 7 }
	switch t := p[0] & 0x1f; t {
	case 24: // STAP-A: 1 byte header, then (2-byte size, NAL)*
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			if isKey(p[i+2] & 0x1f) {
				return true
			}
			i += 2 + size
		}
		return false
	case 28: // FU-A: start bit + original type in the FU header
		return len(p) > 1 && p[1]&0x80 != 0 && isKey(p[1]&0x1f)
	default:
		return isKey(t)
	}
}

func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 1 or 2 bytes
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	start := p[0]&0x10 != 0 && p[0]&0x07 == 0 // S bit, partition 0
	return start && len(p) > i && p[i]&0x01 == 0
}
