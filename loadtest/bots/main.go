// Command vigil-bots runs N real WebRTC viewers (Pion: ICE, DTLS, SRTP,
// RTCP feedback) in one process against Vigil or Janus's streaming plugin,
// and counts what each receives (packets, frames, loss, freezes) without
// decoding. Results are JSON lines on stdout; progress goes to stderr.
//
// Usage (see loadtest/README.md):
//
//	VIGIL_SECRET=... vigil-bots --mode vigil --url http://127.0.0.1:8080 --camera cam-1 --steps 10,50,100 --window 10s
//	vigil-bots --mode janus --url http://127.0.0.1:8088/janus --mountpoint 1 --bots 20 --window 10s
//
// Output, one JSON object per line:
//
//	{"event":"window","step":N,"bots":N}   measurement window of step N starts now
//	{"event":"step",...}                    counters of that window (see stepReport)
//	{"event":"done",...}                    totals
//
// Bounded: at most 2000 bots, at most --max-duration (default 10 min) in all;
// only loopback addresses (and those of --allow-net) are used for ICE.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const maxBots = 2000

type bot struct {
	counters *counters
	stop     func()
	err      error
}

func main() {
	mode := flag.String("mode", "vigil", "vigil or janus")
	url := flag.String("url", "http://127.0.0.1:8080", "Vigil base URL, or the Janus HTTP API URL (http://host:8088/janus)")
	camera := flag.String("camera", "", "camera id (vigil)")
	quality := flag.String("quality", "high", "stream: high or low (vigil)")
	issuer := flag.String("issuer", "vigil", "token issuer when signing with VIGIL_SECRET (vigil)")
	audience := flag.String("audience", "vigil-viewer", "token audience when signing with VIGIL_SECRET (vigil)")
	mountpoint := flag.Int("mountpoint", 1, "streaming mountpoint id (janus)")
	bots := flag.Int("bots", 0, "number of bots (one step); same as --steps N")
	stepsFlag := flag.String("steps", "", "bot counts to step through, e.g. 10,50,100")
	window := flag.Duration("window", 10*time.Second, "measurement window per step")
	settle := flag.Duration("settle", 2*time.Second, "wait after a step's bots are up, before measuring")
	rate := flag.Float64("rate", 20, "bots started per second")
	freezeMs := flag.Int("freeze-ms", 500, "a gap between frames longer than this is a freeze (ms)")
	timeout := flag.Duration("timeout", 15*time.Second, "per-bot connection timeout")
	maxDuration := flag.Duration("max-duration", 10*time.Minute, "hard limit on the whole run")
	headerExtensions := flag.Bool("header-extensions", true, "offer the RTP header extensions a browser offers (transport-wide-cc, abs-send-time, mid, ...), so the server negotiates what it would for a browser (vigil); false: none")
	allowNet := flag.String("allow-net", "", "CIDR whose local addresses ICE may use besides loopback (a network namespace's own network)")
	flag.Parse()

	steps, err := parseSteps(*stepsFlag, *bots)
	if err != nil {
		fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *maxDuration)
	defer cancel()
	ctx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()

	freeze := time.Duration(*freezeMs) * time.Millisecond
	vo := viewerOptions{freeze: freeze}
	if *allowNet != "" {
		_, n, err := net.ParseCIDR(*allowNet)
		if err != nil {
			fatal(fmt.Errorf("--allow-net: %w", err))
		}
		vo.allowNet = n
	}
	var start func(n int, c *counters) (func(), error)
	switch *mode {
	case "vigil":
		if *camera == "" {
			fatal(fmt.Errorf("--camera is required with --mode vigil"))
		}
		o := vigilOptions{url: *url, camera: *camera, quality: *quality, token: os.Getenv("VIGIL_TOKEN"), secret: os.Getenv("VIGIL_SECRET"),
			issuer: *issuer, audience: *audience, ttl: *maxDuration + time.Minute, headerExtensions: *headerExtensions}
		if o.token == "" && o.secret == "" {
			fatal(fmt.Errorf("set VIGIL_TOKEN (one viewer token for all bots) or VIGIL_SECRET (HS256 secret, a token per bot)"))
		}
		start = func(n int, c *counters) (func(), error) { return runVigilBot(ctx, o, n, c, vo, *timeout) }
	case "janus":
		o := janusOptions{url: *url, mountpoint: *mountpoint}
		start = func(_ int, c *counters) (func(), error) { return runJanusBot(ctx, o, c, vo, *timeout) }
	default:
		fatal(fmt.Errorf("--mode must be vigil or janus"))
	}

	var (
		mu  sync.Mutex
		all []*bot
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		var wg sync.WaitGroup
		for _, b := range all {
			if b.stop != nil {
				wg.Add(1)
				go func(stop func()) { defer wg.Done(); stop() }(b.stop)
			}
		}
		wg.Wait()
	}()

	emit := json.NewEncoder(os.Stdout)
	runStart := time.Now()
	for _, target := range steps {
		// Start bots up to the target at --rate per second, connecting concurrently.
		var wg sync.WaitGroup
		firstNew := len(all)
		interval := time.Duration(float64(time.Second) / *rate)
		for len(all) < target && ctx.Err() == nil {
			b := &bot{counters: newCounters()}
			n := len(all)
			mu.Lock()
			all = append(all, b)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				stop, err := start(n, b.counters)
				mu.Lock()
				b.stop, b.err = stop, err
				mu.Unlock()
				if err != nil {
					b.counters.fail(err)
				}
			}()
			sleep(ctx, interval)
		}
		wg.Wait()
		sleep(ctx, *settle)
		if ctx.Err() != nil {
			break
		}
		mu.Lock()
		bots := append([]*bot(nil), all...)
		mu.Unlock()
		_ = emit.Encode(map[string]any{"event": "window", "step": target, "bots": len(bots)})
		before := snapshots(bots)
		sleep(ctx, *window)
		after := snapshots(bots)
		r := report(target, before, after, freeze, bots[firstNew:])
		fmt.Fprintf(os.Stderr, "[vigil-bots] %d bots: %d receiving frames, %.1f fps/bot, loss %.2f %%, %d freezes\n",
			r.Bots, r.BotsWithFrames, r.FPSPerBot, r.LossPct, r.Freezes)
		_ = emit.Encode(r)
	}
	_ = emit.Encode(map[string]any{"event": "done", "mode": *mode, "bots": len(all), "elapsedMs": time.Since(runStart).Milliseconds()})
}

func snapshots(bots []*bot) []snapshot {
	out := make([]snapshot, len(bots))
	for i, b := range bots {
		out[i] = b.counters.snapshot()
	}
	return out
}

// stepReport is the "step" line: what the bots received in one window.
type stepReport struct {
	Event          string         `json:"event"`
	Step           int            `json:"step"`
	Bots           int            `json:"bots"`
	Connected      int            `json:"connected"`      // ICE+DTLS connected
	Failed         int            `json:"failed"`         // signaling or connection errors
	BotsWithFrames int            `json:"botsWithFrames"` // received at least one frame in the window
	WindowMs       float64        `json:"windowMs"`
	Packets        uint64         `json:"packets"`
	Bytes          uint64         `json:"bytes"`      // RTP payload bytes
	Frames         uint64         `json:"frames"`     // marker bits
	Keyframes      uint64         `json:"keyframes"`  // frames that carried a keyframe
	Expected       uint64         `json:"expected"`   // packets expected from sequence numbers
	Lost           int64          `json:"lost"`       // expected - received (negative with duplicates)
	LossPct        float64        `json:"lossPct"`    // lost / expected, %
	BitrateBps     float64        `json:"bitrateBps"` // payload bits per second, per receiving bot
	FPSPerBot      float64        `json:"fpsPerBot"`  // frames per second, per receiving bot
	Freezes        uint64         `json:"freezes"`    // frame gaps > freeze threshold that ended in the window
	FreezeMs       float64        `json:"freezeMs"`   // their total duration
	FrozenNow      int            `json:"frozenNow"`  // connected bots without a frame for > threshold at window end
	TTFFMs         map[string]any `json:"ttffMs"`     // start of signaling -> end of first keyframe, bots added this step
	Errors         map[string]int `json:"errors,omitempty"`
}

func report(step int, before, after []snapshot, freeze time.Duration, added []*bot) stepReport {
	r := stepReport{Event: "step", Step: step, Bots: len(after), Errors: map[string]int{}}
	if len(after) > 0 {
		r.WindowMs = float64(after[0].at.Sub(before[0].at).Microseconds()) / 1000
	}
	for i, a := range after {
		b := before[i]
		if a.connected {
			r.Connected++
		}
		if a.err != nil {
			r.Failed++
			msg := a.err.Error()
			if len(msg) > 120 {
				msg = msg[:120]
			}
			r.Errors[msg]++
		}
		r.Packets += a.packets - b.packets
		r.Bytes += a.bytes - b.bytes
		r.Frames += a.frames - b.frames
		r.Keyframes += a.keyframes - b.keyframes
		if a.frames > b.frames {
			r.BotsWithFrames++
		}
		r.Freezes += a.freezes - b.freezes
		r.FreezeMs += a.freezeMs - b.freezeMs
		if b.expected > 0 {
			r.Expected += a.expected - b.expected
		} else {
			r.Expected += a.expected
		}
		if a.connected && a.err == nil && (a.lastFrameAt.IsZero() || a.at.Sub(a.lastFrameAt) > freeze) {
			r.FrozenNow++
		}
	}
	r.Lost = int64(r.Expected) - int64(r.Packets)
	if r.Expected > 0 {
		r.LossPct = 100 * float64(r.Lost) / float64(r.Expected)
	}
	if r.BotsWithFrames > 0 && r.WindowMs > 0 {
		secs := r.WindowMs / 1000
		r.BitrateBps = float64(r.Bytes*8) / secs / float64(r.BotsWithFrames)
		r.FPSPerBot = float64(r.Frames) / secs / float64(r.BotsWithFrames)
	}
	var ttff []float64
	for _, b := range added {
		s := b.counters.snapshot()
		if !s.firstKeyframe.IsZero() {
			ttff = append(ttff, float64(s.firstKeyframe.Sub(s.started).Microseconds())/1000)
		}
	}
	r.TTFFMs = percentiles(ttff)
	return r
}

// percentiles: count, p50, p95, max (nearest rank) of xs, in the unit given.
func percentiles(xs []float64) map[string]any {
	if len(xs) == 0 {
		return map[string]any{"count": 0}
	}
	sort.Float64s(xs)
	at := func(p float64) float64 {
		i := int(p*float64(len(xs))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return xs[min(i, len(xs)-1)]
	}
	return map[string]any{"count": len(xs), "p50": at(0.5), "p95": at(0.95), "max": xs[len(xs)-1]}
}

func parseSteps(steps string, bots int) ([]int, error) {
	if steps == "" {
		if bots <= 0 {
			return nil, fmt.Errorf("give --bots N or --steps a,b,c")
		}
		steps = strconv.Itoa(bots)
	}
	var out []int
	prev := 0
	for _, s := range strings.Split(steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= prev || n > maxBots {
			return nil, fmt.Errorf("--steps: %q must be increasing counts in 1..%d", s, maxBots)
		}
		out = append(out, n)
		prev = n
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "vigil-bots:", err)
	os.Exit(2)
}

// debugf prints to stderr when VIGIL_BOTS_DEBUG is set (SDP offers and answers).
func debugf(format string, args ...any) {
	if os.Getenv("VIGIL_BOTS_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "[vigil-bots debug] "+format+"\n", args...)
	}
}
