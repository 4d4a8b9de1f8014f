package main

// Per-bot receive counters, read out per measurement window.
//
// What is counted, without decoding (RTP header fields per RFC 3550 §5.1):
//   - packets and payload bytes;
//   - frames: a packet with the marker bit ends a video frame (RFC 6184 §5.1
//     for H.264, RFC 7741 §4.1 for VP8);
//   - loss: expected packets (extended highest sequence number - first + 1,
//     RFC 3550 §6.4.1 / A.3) minus packets received, per window;
//   - freezes: a gap longer than the freeze threshold between two frame ends
//     (the threshold is what WebRTC stats call a freeze: 3x the average frame
//     duration or +150 ms; the bots take one fixed threshold, default 500 ms).

import (
	"sync"
	"time"

	"github.com/pion/rtp"
)

type counters struct {
	mu      sync.Mutex
	started time.Time

	connectedAt    time.Time
	firstPacketAt  time.Time
	firstKeyframe  time.Time // end (marker) of the first keyframe
	inKeyframe     bool
	err            error
	packets        uint64
	bytes          uint64
	frames         uint64
	keyframes      uint64
	freezes        uint64
	freezeMs       float64
	lastFrameAt    time.Time
	haveSeq        bool
	cycles         uint64 // sequence number wraps, << 16
	highestSeq     uint16
	firstExtSeq    uint64
	highestExtSeq  uint64
	lastRTPTime    uint32
	timestampSteps uint64 // RTP timestamp changes (a second frame counter, for senders without marker bits)
}

func newCounters() *counters { return &counters{started: time.Now()} }

// onPacket counts one RTP packet; keyframe tells whether its payload starts
// or carries a keyframe (see keyframeDetector).
func (c *counters) onPacket(p *rtp.Packet, keyframe bool, freeze time.Duration) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.packets++
	c.bytes += uint64(len(p.Payload))
	if c.firstPacketAt.IsZero() {
		c.firstPacketAt = now
	}
	seq := p.SequenceNumber
	if !c.haveSeq {
		c.haveSeq = true
		c.highestSeq = seq
		c.firstExtSeq = uint64(seq)
		c.highestExtSeq = uint64(seq)
		c.lastRTPTime = p.Timestamp
	} else {
		delta := seq - c.highestSeq // modulo 2^16
		if delta != 0 && delta < 0x8000 {
			if seq < c.highestSeq {
				c.cycles += 1 << 16
			}
			c.highestSeq = seq
			c.highestExtSeq = c.cycles + uint64(seq)
		}
		if p.Timestamp != c.lastRTPTime {
			c.timestampSteps++
			c.lastRTPTime = p.Timestamp
		}
	}
	if keyframe {
		c.inKeyframe = true
	}
	if p.Marker {
		c.frames++
		if c.inKeyframe {
			c.keyframes++
			c.inKeyframe = false
			if c.firstKeyframe.IsZero() {
				c.firstKeyframe = now
			}
		}
		if !c.lastFrameAt.IsZero() {
			if gap := now.Sub(c.lastFrameAt); gap > freeze {
				c.freezes++
				c.freezeMs += float64(gap.Microseconds()) / 1000
			}
		}
		c.lastFrameAt = now
	}
}

func (c *counters) markConnected() {
	c.mu.Lock()
	if c.connectedAt.IsZero() {
		c.connectedAt = time.Now()
	}
	c.mu.Unlock()
}

func (c *counters) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// snapshot is a copy of a bot's cumulative counters at one instant.
type snapshot struct {
	at            time.Time
	started       time.Time
	connected     bool
	err           error
	packets       uint64
	bytes         uint64
	frames        uint64
	keyframes     uint64
	freezes       uint64
	freezeMs      float64
	expected      uint64
	lastFrameAt   time.Time
	firstKeyframe time.Time
	firstPacketAt time.Time
}

func (c *counters) snapshot() snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := snapshot{
		at: time.Now(), started: c.started, connected: !c.connectedAt.IsZero(), err: c.err,
		packets: c.packets, bytes: c.bytes, frames: c.frames, keyframes: c.keyframes,
		freezes: c.freezes, freezeMs: c.freezeMs, lastFrameAt: c.lastFrameAt,
		firstKeyframe: c.firstKeyframe, firstPacketAt: c.firstPacketAt,
	}
	if c.haveSeq {
		s.expected = c.highestExtSeq - c.firstExtSeq + 1
	}
	return s
}
