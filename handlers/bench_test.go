package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"

	"playgate/handlers"
	"playgate/models"
	"playgate/store"
)

// Benchmarks of the hot paths, through the real router and a real database
// (SQLite in a temporary folder, or PostgreSQL with PLAYGATE_TEST_POSTGRES):
//
//	go test ./handlers -run '^$' -bench . -benchmem
//	go test ./handlers -run '^$' -bench FeedbackCreate -cpuprofile /tmp/cpu.out
//
// The request logger writes to io.Discard, as a production server would
// write to a file: the figures include formatting the log line.

// benchEnv is a server for benchmarks: newEnv's fixtures take *testing.T,
// these take testing.TB.
type benchEnv struct {
	tb    testing.TB
	store *store.Store
	h     http.Handler
	admin string // access tokens
	seq   atomic.Int64
}

func newBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	st := openTestStore(tb)
	api := handlers.New(handlers.Config{Store: st, Keys: handlers.Keys{Current: testKey}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	r, err := api.Router()
	if err != nil {
		tb.Fatal(err)
	}
	e := &benchEnv{tb: tb, store: st, h: r}
	hash, err := models.HashPassword("bench-admin-password")
	if err != nil {
		tb.Fatal(err)
	}
	u := models.User{Email: "bench-admin@example.com", Name: "Bench Admin", Role: models.RoleAdmin, PasswordHash: hash}
	if err := st.CreateUser(context.Background(), nil, &u); err != nil {
		tb.Fatal(err)
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": "bench-admin-password"}, &login)
	e.admin = login.AccessToken
	return e
}

// serve sends one request through the router and returns the recorder.
func (e *benchEnv) serve(method, path, token string, body []byte, headers ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return serveRequest(e.h, method, path, token, rd, headers...)
}

// must sends a setup request, fails unless the status is want, and decodes the answer.
func (e *benchEnv) must(want int, method, path, token string, in, out any) {
	e.tb.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			e.tb.Fatal(err)
		}
	}
	w := e.serve(method, path, token, body)
	if w.Code != want {
		e.tb.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			e.tb.Fatal(err)
		}
	}
}

// build makes a product and a build with n changes, through the API.
func (e *benchEnv) build(n int) (int64, []int64) {
	e.tb.Helper()
	run := e.seq.Add(1)
	var id struct {
		ID int64 `json:"id"`
	}
	e.must(201, "POST", "/api/v1/products", e.admin, map[string]string{"name": fmt.Sprintf("Bench %d", run), "slug": fmt.Sprintf("bench-%d", run)}, &id)
	e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", id.ID), e.admin, map[string]any{"version": "1.0.0"}, &id)
	bid := id.ID
	changes := make([]int64, n)
	for i := range changes {
		e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), e.admin, map[string]string{"key": fmt.Sprintf("B-%d", i+1), "title": fmt.Sprintf("Change %d", i+1)}, &id)
		changes[i] = id.ID
	}
	return bid, changes
}

// tester invites and redeems a new tester of a build; it returns the
// access token and the user id.
func (e *benchEnv) tester(buildID int64) (string, int64) {
	e.tb.Helper()
	n := e.seq.Add(1)
	var inv struct {
		Token string `json:"token"`
	}
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", buildID), e.admin, map[string]string{"email": fmt.Sprintf("bench-tester-%d@example.com", n)}, &inv)
	var red struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": inv.Token, "name": fmt.Sprintf("Tester %d", n), "password": "bench-tester-password"}, &red)
	return red.AccessToken, red.User.ID
}

// expect fails the benchmark on an unexpected status.
func expect(b *testing.B, w *httptest.ResponseRecorder, want int) {
	if w.Code != want {
		b.Fatalf("status %d, want %d: %s", w.Code, want, w.Body)
	}
}

// bugBody is a valid bug of about 300 bytes, like the load tools send.
func bugBody(n int, changeID int64) []byte {
	return []byte(`{"kind":"bug","severity":"` + models.Severities[n%4] + `","title":"Crash when opening inventory after level 3 (#` + strconv.Itoa(n) +
		`)","body":"Steps: open the inventory right after the level-3 cutscene ends; the game freezes for about two seconds, then crashes to desktop. Happens 3 of 5 tries on this build. Expected: inventory opens.","change_id":` +
		strconv.FormatInt(changeID, 10) + `,"platform":{"os":"Windows 11","device":"RTX 3060 laptop","client_version":"1.0.0"}}`)
}

// BenchmarkAuthMe is the authentication middleware: verify the JWT, load
// the principal (user and live session), answer GET /api/v1/me.
func BenchmarkAuthMe(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			expect(b, e.serve("GET", "/api/v1/me", e.admin, nil), 200)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				expect(b, e.serve("GET", "/api/v1/me", e.admin, nil), 200)
			}
		})
	})
}

// BenchmarkFeedbackCreate files valid bugs with unique Idempotency-Keys;
// the build grows as the benchmark runs, as it does in production.
// "parallel" runs 32 requests per core at once, as the c = 64 load does, so
// that writes share group commits.
func BenchmarkFeedbackCreate(b *testing.B) {
	e := newBenchEnv(b)
	bid, changes := e.build(20)
	const testers = 8
	tokens := make([]string, testers)
	for i := range tokens {
		tokens[i], _ = e.tester(bid)
	}
	path := fmt.Sprintf("/api/v1/builds/%d/feedback", bid)
	var n atomic.Int64
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			i := int(n.Add(1))
			expect(b, e.serve("POST", path, tokens[i%testers], bugBody(i, changes[i%len(changes)]), "Idempotency-Key", "k-"+strconv.Itoa(i)), 201)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := int(n.Add(1))
				expect(b, e.serve("POST", path, tokens[i%testers], bugBody(i, changes[i%len(changes)]), "Idempotency-Key", "k-"+strconv.Itoa(i)), 201)
			}
		})
	})
}

// BenchmarkVote casts and changes votes: each tester walks the changes and
// flips its vote every lap (first votes insert, later ones update).
func BenchmarkVote(b *testing.B) {
	e := newBenchEnv(b)
	bid, changes := e.build(20)
	const testers = 8
	tokens := make([]string, testers)
	for i := range tokens {
		tokens[i], _ = e.tester(bid)
	}
	bodies := [][]byte{[]byte(`{"vote":"keep"}`), []byte(`{"vote":"revert"}`)}
	var n atomic.Int64
	run := func(b *testing.B) {
		i := int(n.Add(1))
		c := changes[i%len(changes)]
		w := e.serve("PUT", "/api/v1/changes/"+strconv.FormatInt(c, 10)+"/vote", tokens[(i/len(changes))%testers], bodies[(i/(len(changes)*testers))%2])
		expect(b, w, 200)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			run(b)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(32)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run(b)
			}
		})
	})
}

// BenchmarkReport reads the report of a build with 200 changes, votes on
// each and a few thousand feedback items: it costs O(changes), not
// O(feedback). "cached" is the request, "read" the store's read behind it.
func BenchmarkReport(b *testing.B) {
	e := newBenchEnv(b)
	bid, changes := e.build(200)
	for t := 0; t < 3; t++ {
		tok, _ := e.tester(bid)
		for i, c := range changes {
			vote := []byte(`{"vote":"keep"}`)
			if (i+t)%4 == 0 {
				vote = []byte(`{"vote":"revert"}`)
			}
			expect(b, e.serve("PUT", "/api/v1/changes/"+strconv.FormatInt(c, 10)+"/vote", tok, vote), 200)
		}
	}
	_, tid := e.tester(bid)
	if err := e.store.SeedFeedback(context.Background(), bid, tid, 5000, func(i int, fb *models.Feedback) {
		fb.Kind, fb.Severity, fb.ChangeID = models.KindBug, ptr(models.Severities[i%4]), &changes[i%len(changes)]
	}); err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/builds/%d/report", bid)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			expect(b, e.serve("GET", path, e.admin, nil), 200)
		}
	})
	// What a request pays when a commit has made the cached report stale.
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.store.Report(context.Background(), bid); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFeedbackList reads a page of a build's feedback as staff: the
// first page, a page 5,000 items deep, each filter, and a word search.
func BenchmarkFeedbackList(b *testing.B) {
	e := newBenchEnv(b)
	bid, changes := e.build(20)
	_, tid := e.tester(bid)
	words := []string{"inventory", "crash", "lobby", "audio", "texture", "matchmaking", "controller", "save"}
	err := e.store.SeedFeedback(context.Background(), bid, tid, 10_000, func(i int, fb *models.Feedback) {
		fb.Kind = models.Kinds[i%len(models.Kinds)]
		if fb.Kind == models.KindBug {
			fb.Severity = ptr(models.Severities[(i/4)%4])
		}
		fb.Status = models.Statuses[i%5] // every status but duplicate
		fb.ChangeID = &changes[i%len(changes)]
		fb.Title = fmt.Sprintf("%s problem near the %s, item %d", words[i%len(words)], words[(i/7)%len(words)], i)
		fb.Body = "Steps to reproduce and what was expected, in a few sentences of text."
	})
	if err != nil {
		b.Fatal(err)
	}
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	deep := ""
	for i := 0; i < 100; i++ { // 100 pages of 50
		e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?limit=50&cursor=%s", bid, deep), e.admin, nil, &page)
		deep = page.NextCursor
	}
	base := fmt.Sprintf("/api/v1/builds/%d/feedback?limit=50", bid)
	for _, c := range []struct{ name, query string }{
		{"first", ""},
		{"deep", "&cursor=" + deep},
		{"kind", "&kind=praise"},
		{"severity", "&severity=critical"},
		{"status", "&status=in_progress"},
		{"change", "&change_id=" + strconv.FormatInt(changes[3], 10)},
		{"q", "&q=lobby"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				expect(b, e.serve("GET", base+c.query, e.admin, nil), 200)
			}
		})
	}
}

// BenchmarkExportCSV streams the CSV export of a build with 20,000 items:
// the database read, the row scan and the encoding (rows/s is per item).
func BenchmarkExportCSV(b *testing.B) {
	e := newBenchEnv(b)
	bid, changes := e.build(20)
	_, tid := e.tester(bid)
	const items = 20_000
	err := e.store.SeedFeedback(context.Background(), bid, tid, items, func(i int, fb *models.Feedback) {
		fb.Kind, fb.Severity, fb.ChangeID = models.KindBug, ptr(models.Severities[i%4]), &changes[i%len(changes)]
		fb.Body = "Steps: open the inventory right after the level-3 cutscene ends; the game freezes for about two seconds, then crashes."
		fb.Platform = models.Platform{OS: "Windows 11", Device: "RTX 3060 laptop", ClientVersion: "1.0.0"}
	})
	if err != nil {
		b.Fatal(err)
	}
	path := fmt.Sprintf("/api/v1/builds/%d/feedback.csv", bid)
	b.ReportAllocs()
	for b.Loop() {
		w := e.serve("GET", path, e.admin, nil)
		expect(b, w, 200)
		b.SetBytes(int64(w.Body.Len()))
	}
	b.ReportMetric(float64(b.N)*items/b.Elapsed().Seconds(), "rows/s")
}
