package main

// Janus's streaming plugin as a bot speaks it, over Janus's plain HTTP API
// (https://janus.conf.meetecho.com/docs/rest.html, streaming plugin:
// https://janus.conf.meetecho.com/docs/streaming.html):
//
//	POST /janus {create} -> session; POST /janus/<session> {attach janus.plugin.streaming} -> handle
//	POST /janus/<session>/<handle> {message: watch <mountpoint>} -> event with jsep offer (long poll GET /janus/<session>)
//	POST {message: start, jsep: answer} -> media; the long poll keeps the session alive; {destroy} at the end.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// janusOptions says which Janus and which streaming mountpoint bots watch.
type janusOptions struct {
	url        string // Janus HTTP API base, e.g. http://127.0.0.1:8088/janus
	mountpoint int
}

type janusReply struct {
	Janus string `json:"janus"`
	Data  struct {
		ID uint64 `json:"id"`
	} `json:"data"`
	Error *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"error"`
	Plugindata struct {
		Data json.RawMessage `json:"data"`
	} `json:"plugindata"`
	Jsep *struct {
		Type string `json:"type"`
		SDP  string `json:"sdp"`
	} `json:"jsep"`
}

type janusClient struct {
	http *http.Client
	base string
}

func (j *janusClient) post(ctx context.Context, path string, body map[string]any) (janusReply, error) {
	body["transaction"] = fmt.Sprintf("%x", rand.Uint64())
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.base+path, bytes.NewReader(raw))
	if err != nil {
		return janusReply{}, err
	}
	return j.do(req)
}

func (j *janusClient) do(req *http.Request) (janusReply, error) {
	resp, err := j.http.Do(req)
	if err != nil {
		return janusReply{}, err
	}
	defer resp.Body.Close()
	var r janusReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("janus: HTTP %d: %w", resp.StatusCode, err)
	}
	if r.Janus == "error" && r.Error != nil {
		return r, fmt.Errorf("janus: %d %s", r.Error.Code, r.Error.Reason)
	}
	return r, nil
}

// poll long-polls the session for one event (Janus answers after at most 30 s, or a keepalive).
func (j *janusClient) poll(ctx context.Context, session uint64) (janusReply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/%d?maxev=1", j.base, session), nil)
	if err != nil {
		return janusReply{}, err
	}
	return j.do(req)
}

// runJanusBot connects bot n to a Janus streaming mountpoint; returns once
// the answer is accepted, then keeps the session alive until ctx ends.
func runJanusBot(ctx context.Context, o janusOptions, c *counters, vo viewerOptions, timeout time.Duration) (func(), error) {
	j := &janusClient{http: &http.Client{}, base: strings.TrimRight(o.url, "/")}
	step, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	created, err := j.post(step, "", map[string]any{"janus": "create"})
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	session := created.Data.ID
	destroy := func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		_, _ = j.post(dctx, fmt.Sprintf("/%d", session), map[string]any{"janus": "destroy"})
	}
	attached, err := j.post(step, fmt.Sprintf("/%d", session), map[string]any{"janus": "attach", "plugin": "janus.plugin.streaming"})
	if err != nil {
		destroy()
		return nil, fmt.Errorf("attach: %w", err)
	}
	handle := fmt.Sprintf("/%d/%d", session, attached.Data.ID)
	if _, err := j.post(step, handle, map[string]any{"janus": "message", "body": map[string]any{"request": "watch", "id": o.mountpoint}}); err != nil {
		destroy()
		return nil, fmt.Errorf("watch: %w", err)
	}
	var offer string
	for offer == "" {
		ev, err := j.poll(step, session)
		if err != nil {
			destroy()
			return nil, fmt.Errorf("waiting for the offer: %w", err)
		}
		if ev.Jsep != nil && ev.Jsep.Type == "offer" {
			offer = ev.Jsep.SDP
		} else if strings.Contains(string(ev.Plugindata.Data), `"error"`) {
			destroy()
			return nil, fmt.Errorf("watch refused: %s", ev.Plugindata.Data)
		}
	}
	debugf("janus offer:\n%s", offer)
	v, err := newViewer(offer, c, vo)
	if err != nil {
		destroy()
		return nil, err
	}
	answer, err := v.answer(offer, timeout)
	if err != nil {
		v.close()
		destroy()
		return nil, err
	}
	debugf("answer:\n%s", answer)
	if _, err := j.post(step, handle, map[string]any{"janus": "message", "body": map[string]any{"request": "start"}, "jsep": map[string]any{"type": "answer", "sdp": answer}}); err != nil {
		v.close()
		destroy()
		return nil, fmt.Errorf("start: %w", err)
	}
	// Keep the session alive: each long poll counts as activity (session_timeout).
	pollCtx, stopPolling := context.WithCancel(ctx)
	go func() {
		for pollCtx.Err() == nil {
			if _, err := j.poll(pollCtx, session); err != nil && pollCtx.Err() == nil {
				c.fail(errors.New("janus session lost: " + err.Error()))
				return
			}
		}
	}()
	return func() {
		stopPolling()
		v.close()
		destroy()
	}, nil
}
