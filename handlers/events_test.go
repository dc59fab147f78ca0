package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseEvent is one event read off a stream.
type sseEvent struct {
	ID, Type string
	Data     map[string]any
}

// openStream connects to a build's event stream and returns its events.
func openStream(t *testing.T, srv *httptest.Server, buildID int64, token, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/builds/%d/events", srv.URL, buildID), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer res.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &ev.Data)
			case line == "" && ev.Type != "":
				out <- ev
				ev = sseEvent{}
			}
		}
	}()
	return out
}

// next waits for the next event of one of the types (others are skipped).
func nextEvent(t *testing.T, events <-chan sseEvent, types ...string) sseEvent {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("stream closed while waiting for %v", types)
			}
			for _, ty := range types {
				if ev.Type == ty {
					return ev
				}
			}
		case <-deadline:
			t.Fatalf("no %v event within 10s", types)
		}
	}
}

func TestEventsVoteTipsFlag(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	bid, ch := e.build(1)
	var testers []*actor
	for i := 0; i < 5; i++ {
		testers = append(testers, e.tester(bid))
	}
	events := openStream(t, srv, bid, e.admin.Token, "")
	for i, tt := range testers {
		e.vote(tt, ch[0], "revert")
		ev := nextEvent(t, events, "vote")
		if ev.Data["change_id"].(float64) != float64(ch[0]) || ev.Data["build_id"].(float64) != float64(bid) {
			t.Fatalf("vote event %d: %v", i, ev)
		}
	}
	// The fifth revert vote reaches min_votes with a lower bound of 56.6%: flagged.
	flag := nextEvent(t, events, "flag")
	if flag.Data["flagged"] != true || flag.Data["change_id"].(float64) != float64(ch[0]) ||
		!strings.Contains(fmt.Sprint(flag.Data["reasons"]), "5 of 5 testers voted revert") {
		t.Fatalf("flag event: %v", flag)
	}
	// Turning votes around unflags it.
	for _, tt := range testers[:4] {
		e.vote(tt, ch[0], "keep")
	}
	if unflag := nextEvent(t, events, "flag"); unflag.Data["flagged"] != false {
		t.Fatalf("unflag event: %v", unflag)
	}
	// A client reconnecting with Last-Event-ID replays what it missed.
	replay := openStream(t, srv, bid, e.admin.Token, flag.ID)
	if ev := nextEvent(t, replay, "vote", "flag"); ev.Type != "vote" {
		t.Fatalf("replay starts with %v", ev)
	}
	if ev := nextEvent(t, replay, "flag"); ev.Data["flagged"] != false {
		t.Fatalf("replayed flag: %v", ev)
	}
	// Decisions and stage changes are streamed too.
	e.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", ch[0]), e.admin.Token, map[string]string{"decision": "approved", "note": "fine"})
	if ev := nextEvent(t, events, "decision"); ev.Data["decision"] != "approved" {
		t.Fatalf("decision event: %v", ev)
	}
	e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), e.admin.Token, map[string]string{"to": "staging"})
	if ev := nextEvent(t, events, "stage"); ev.Data["to"] != "staging" {
		t.Fatalf("stage event: %v", ev)
	}
	// Feedback too.
	e.bug(testers[0], bid, nil, "low", "Typo")
	if ev := nextEvent(t, events, "feedback"); ev.Data["kind"] != "bug" {
		t.Fatalf("feedback event: %v", ev)
	}
}

func TestEventsAuthorization(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	// Errors answer before the stream starts; staff streams are checked above.
	for who, want := range map[string]int{asTester: 403, asOtherTester: 403, asDisabledAdmin: 401, asAnonymous: 401} {
		r := e.do("GET", fmt.Sprintf("/api/v1/builds/%d/events", w.bid), w.token(e, who), nil)
		if r.Status != want {
			t.Errorf("%s: %d, want %d", who, r.Status, want)
		}
	}
	if r := e.do("GET", "/api/v1/builds/999999/events", e.admin.Token, nil); r.Status != 404 {
		t.Errorf("unknown build: %d", r.Status)
	}
	if r := e.do("GET", fmt.Sprintf("/api/v1/builds/%d/events", w.bid), e.admin.Token, nil, "Last-Event-ID", "abc"); r.Status != 400 {
		t.Errorf("bad Last-Event-ID: %d", r.Status)
	}
}
