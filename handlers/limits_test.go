package handlers_test

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"playgate/handlers"
)

// withLimits rebuilds the env's router with rate limits from spec.
func (e *env) withLimits(spec string, proxies ...string) {
	e.t.Helper()
	limits, err := handlers.ParseLimits(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	api := handlers.New(handlers.Config{Store: e.store, Keys: handlers.Keys{Current: testKey}, Limits: limits,
		TrustedProxies: proxies, Log: slog.New(slog.NewTextHandler(e.logBuf, nil))})
	r, err := api.Router()
	if err != nil {
		e.t.Fatal(err)
	}
	e.api, e.h = api, r
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t)
	bid, ch := e.build(1)
	tt := e.tester(bid)
	other := e.tester(bid)
	e.withLimits("feedback=3/1m,votes=2/1m,redeem=2/10m")
	post := func(a *actor) resp {
		return e.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), a.Token, map[string]any{"kind": "other", "title": "hi"})
	}
	for i := 0; i < 3; i++ {
		if r := post(tt); r.Status != 201 {
			t.Fatalf("feedback %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := post(tt)
	wantError(t, r, 429, "rate_limited", "")
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// Per user: another tester still may; nothing was stored for the refused one.
	if r := post(other); r.Status != 201 {
		t.Fatalf("another tester: %d", r.Status)
	}
	if n := e.reportOf(bid)["totals"].(map[string]any)["feedback"].(float64); n != 4 {
		t.Fatalf("stored %v items, want 4", n)
	}
	// The counter is in the database: a second replica on the same store agrees.
	second := *e
	second.withLimits("feedback=3/1m,votes=2/1m,redeem=2/10m")
	wantError(t, second.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tt.Token, map[string]any{"kind": "other", "title": "hi"}), 429, "rate_limited", "")
	// Votes have their own bucket.
	e.vote(tt, ch[0], "keep")
	e.vote(tt, ch[0], "revert")
	wantError(t, e.do("PUT", fmt.Sprintf("/api/v1/changes/%d/vote", ch[0]), tt.Token, map[string]string{"vote": "keep"}), 429, "rate_limited", "")
	// The window ends: allowed again.
	e.setClock(time.Now().Add(2 * time.Minute))
	e.login(tt)
	if r := post(tt); r.Status != 201 {
		t.Fatalf("after the window: %d %s", r.Status, r.Body)
	}
}

// A spoofed X-Forwarded-For cannot dodge a limit when no proxy is trusted,
// and is honoured from a trusted proxy.
func TestRateLimitClientIP(t *testing.T) {
	e := newEnv(t)
	e.withLimits("redeem=2/10m")
	redeem := func(xff string) int {
		req := httptest.NewRequest("POST", "/api/v1/invites/redeem", strings.NewReader(`{"token":"nope","password":"long-enough-pw"}`))
		req.RemoteAddr = "203.0.113.9:5555"
		req.Header.Set("X-Forwarded-For", xff)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, req)
		return w.Code
	}
	for i, want := range []int{404, 404, 429, 429} {
		if got := redeem(fmt.Sprintf("198.51.100.%d", i)); got != want {
			t.Fatalf("untrusted attempt %d: %d, want %d", i, got, want)
		}
	}
	e.withLimits("redeem=2/10m", "203.0.113.9")
	for i, want := range []int{404, 404, 429} {
		if got := redeem("198.51.100.77"); got != want {
			t.Fatalf("trusted attempt %d: %d, want %d", i, got, want)
		}
	}
	if got := redeem("198.51.100.78"); got != 404 {
		t.Fatalf("another client behind the trusted proxy: %d", got)
	}
}

func TestParseLimits(t *testing.T) {
	if l, err := handlers.ParseLimits("off"); err != nil || len(l) != 0 {
		t.Fatalf("off: %v %v", l, err)
	}
	if l, err := handlers.ParseLimits("feedback=5/30s"); err != nil || l["feedback"].N != 5 || l["votes"].N == 0 {
		t.Fatalf("override: %v %v", l, err)
	}
	for _, bad := range []string{"maybe", "feedback=0/1m", "feedback=5", "nope=1/1m", "feedback=5/1ms"} {
		if _, err := handlers.ParseLimits(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
