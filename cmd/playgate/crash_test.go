package main_test

// The crash-safety test: the real binary takes concurrent feedback, is
// killed with SIGKILL mid-load and restarted on the same data folder. Every
// acknowledged item must still be there, retrying every request with its
// Idempotency-Key must never make a copy, and SQLite must find its file
// intact.

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // the "sqlite" database/sql driver
)

const (
	crashRounds     = 5
	crashWorkers    = 16
	crashTesters    = 4
	crashAdminEmail = "crash-admin@example.com"
	crashAdminPass  = "crash-admin-password"
	crashTesterPass = "crash-tester-password"
)

// TestCrashSafety runs five rounds of load, SIGKILL and restart.
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash safety: builds the binary and kills it mid-load (skipped with -short)")
	}
	bin := e2eBuild(t)
	data := filepath.Join(t.TempDir(), "data")

	srv := crashStart(t, bin, data)
	admin := srv.login(crashAdminEmail, crashAdminPass)
	pid := srv.id(srv.must(201, "POST", "/api/v1/products", admin, "", map[string]string{"name": "Crash game", "slug": "crash-game"}))
	bid := srv.id(srv.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, "", map[string]any{"version": "1.0.0"}))
	cid := srv.id(srv.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin, "", map[string]string{"key": "PG-1", "title": "New door"}))
	var testers []string // emails
	for i := 0; i < crashTesters; i++ {
		email := fmt.Sprintf("crash-tester-%d@example.com", i)
		r := srv.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, "", map[string]string{"email": email})
		var inv struct{ Token string }
		srv.decode(r, &inv)
		srv.must(201, "POST", "/api/v1/invites/redeem", "", "", map[string]string{"token": inv.Token, "name": fmt.Sprintf("Tester %d", i), "password": crashTesterPass})
		testers = append(testers, email)
	}

	// Every key ever sent, across rounds: its request and, once known, its item.
	all := map[string]*crashRequest{}
	for round := 1; round <= crashRounds; round++ {
		if srv == nil {
			srv = crashStart(t, bin, data)
		}
		tokens := srv.tokens(testers)
		reqs := srv.load(t, round, bid, cid, testers, tokens)
		srv.kill()
		acked := 0
		for _, r := range reqs {
			all[r.key] = r
			if r.id != 0 {
				acked++
			}
		}
		t.Logf("round %d: %d requests sent, %d acknowledged before SIGKILL", round, len(reqs), acked)
		if acked == 0 {
			t.Fatalf("round %d: no request was acknowledged before the kill", round)
		}

		srv = crashStart(t, bin, data)
		admin = srv.login(crashAdminEmail, crashAdminPass)
		tokens = srv.tokens(testers)
		// Every acknowledged item survived the kill.
		for _, r := range reqs {
			if r.id == 0 {
				continue
			}
			got := srv.do("GET", fmt.Sprintf("/api/v1/feedback/%d", r.id), admin, "", nil)
			var fb struct{ Title string }
			if got.status != 200 || json.Unmarshal(got.body, &fb) != nil || fb.Title != r.title {
				t.Errorf("round %d: acknowledged item %d (key %s) after restart: %d %s", round, r.id, r.key, got.status, got.body)
			}
		}
		// Retrying every request of the round with its key returns its one
		// item: the first answer for what was acknowledged, a new or the
		// committed item for the rest.
		committed := 0 // stored before the kill, never acknowledged
		for _, r := range reqs {
			got := srv.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tokens[r.tester], r.key, r.body())
			var fb struct{ ID int64 }
			if (got.status != 200 && got.status != 201) || json.Unmarshal(got.body, &fb) != nil || fb.ID == 0 {
				t.Fatalf("round %d: retry of key %s: %d %s", round, r.key, got.status, got.body)
			}
			switch {
			case r.id != 0 && (got.status != 200 || fb.ID != r.id):
				t.Errorf("round %d: retry of acknowledged key %s: %d item %d, want 200 item %d", round, r.key, got.status, fb.ID, r.id)
			case r.id == 0:
				r.id = fb.ID
				if got.status == 200 {
					committed++
				}
			}
		}
		t.Logf("round %d: %d unacknowledged requests had been stored before the kill", round, committed)
		// Once more: now every key must answer 200 with the same item.
		for _, r := range reqs {
			got := srv.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tokens[r.tester], r.key, r.body())
			var fb struct{ ID int64 }
			if got.status != 200 || json.Unmarshal(got.body, &fb) != nil || fb.ID != r.id {
				t.Errorf("round %d: second retry of key %s: %d %s, want 200 item %d", round, r.key, got.status, got.body, r.id)
			}
		}
		// One item per key, and the report counts exactly those.
		ids := map[int64]string{}
		for _, r := range all {
			if other, dup := ids[r.id]; dup {
				t.Errorf("keys %s and %s share item %d", other, r.key, r.id)
			}
			ids[r.id] = r.key
		}
		var rep struct {
			Totals struct{ Feedback int } `json:"totals"`
		}
		srv.decode(srv.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), admin, "", nil), &rep)
		if rep.Totals.Feedback != len(all) {
			t.Errorf("round %d: report counts %d items, %d distinct keys were sent", round, rep.Totals.Feedback, len(all))
		}
		if listed := srv.listFeedback(bid, admin); listed != len(all) {
			t.Errorf("round %d: the feedback list holds %d items, %d distinct keys were sent", round, listed, len(all))
		}
		srv.stop()
		srv = nil
		crashCheckDatabase(t, filepath.Join(data, "playgate.db"), bid, len(all))
		if t.Failed() {
			return
		}
	}
}

// crashRequest is one feedback submission with its key.
type crashRequest struct {
	key, title string
	tester     string // email
	bug        bool
	id         int64 // the item, once acknowledged
}

func (r *crashRequest) body() map[string]any {
	if r.bug {
		return map[string]any{"kind": "bug", "severity": "high", "title": r.title, "body": "Seen during the crash test."}
	}
	return map[string]any{"kind": "suggestion", "title": r.title}
}

// load sends feedback from crashWorkers goroutines until it kills the
// server with SIGKILL, at a random moment once some items are acknowledged.
// It returns every request sent, acknowledged or not.
func (s *crashServer) load(t *testing.T, round int, bid, cid int64, testers []string, tokens map[string]string) []*crashRequest {
	t.Helper()
	var (
		mu    sync.Mutex
		reqs  []*crashRequest
		acked atomic.Int64
		dead  atomic.Bool
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for g := 0; g < crashWorkers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !dead.Load(); i++ {
				r := &crashRequest{key: fmt.Sprintf("round%d-worker%d-%d", round, g, i), tester: testers[g%len(testers)], bug: i%3 == 0}
				r.title = "Crash item " + r.key
				mu.Lock()
				reqs = append(reqs, r)
				mu.Unlock()
				b, _ := json.Marshal(r.body())
				req, err := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/builds/%d/feedback", s.base, bid), bytes.NewReader(b))
				if err != nil {
					panic(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tokens[r.tester])
				req.Header.Set("Idempotency-Key", r.key)
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone: this one stays unacknowledged
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return
				}
				var fb struct{ ID int64 }
				if resp.StatusCode != 201 || json.Unmarshal(body, &fb) != nil || fb.ID == 0 {
					if !dead.Load() {
						t.Errorf("round %d: POST feedback %s: %d %s", round, r.key, resp.StatusCode, body)
					}
					return
				}
				mu.Lock()
				r.id = fb.ID
				mu.Unlock()
				acked.Add(1)
			}
		}()
	}
	// Kill at a random point after 20-120 acknowledged items (or 20 s).
	target := int64(20 + rand.IntN(100))
	deadline := time.Now().Add(20 * time.Second)
	for acked.Load() < target && time.Now().Before(deadline) && !t.Failed() {
		time.Sleep(time.Millisecond)
	}
	dead.Store(true)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return reqs
}

// crashServer is one running playgate process (the end-to-end test's
// harness), with requests that carry an Idempotency-Key.
type crashServer struct{ *e2eServer }

// crashStart runs the binary on the data folder and waits for /readyz.
func crashStart(t *testing.T, bin, data string) *crashServer {
	t.Helper()
	return &crashServer{e2eStart(t, bin, map[string]string{"PLAYGATE_DATA": data, "PLAYGATE_ADMIN_EMAIL": crashAdminEmail,
		"PLAYGATE_ADMIN_PASSWORD": crashAdminPass, "PLAYGATE_RATE_LIMITS": "off"})}
}

// kill waits for the SIGKILLed process to be gone.
func (s *crashServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

type crashResp struct {
	status int
	body   []byte
}

// do sends one request; the server must be up.
func (s *crashServer) do(method, path, token, key string, body any) crashResp {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return crashResp{resp.StatusCode, b}
}

func (s *crashServer) must(want int, method, path, token, key string, body any) crashResp {
	s.t.Helper()
	r := s.do(method, path, token, key, body)
	if r.status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (s *crashServer) decode(r crashResp, v any) {
	s.t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		s.t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (s *crashServer) id(r crashResp) int64 {
	s.t.Helper()
	var v struct{ ID int64 }
	s.decode(r, &v)
	if v.ID == 0 {
		s.t.Fatalf("no id in %s", r.body)
	}
	return v.ID
}

func (s *crashServer) login(email, password string) string {
	s.t.Helper()
	var v struct {
		AccessToken string `json:"access_token"`
	}
	s.decode(s.must(200, "POST", "/api/v1/auth/login", "", "", map[string]string{"email": email, "password": password}), &v)
	return v.AccessToken
}

// tokens signs every tester in.
func (s *crashServer) tokens(testers []string) map[string]string {
	out := map[string]string{}
	for _, email := range testers {
		out[email] = s.login(email, crashTesterPass)
	}
	return out
}

// listFeedback counts a build's items by walking its pages.
func (s *crashServer) listFeedback(bid int64, token string) int {
	s.t.Helper()
	n, cursor := 0, ""
	for {
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		s.decode(s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?limit=200&cursor=%s", bid, cursor), token, "", nil), &page)
		n += len(page.Items)
		if page.NextCursor == nil {
			return n
		}
		cursor = *page.NextCursor
	}
}

// crashCheckDatabase opens the stopped server's SQLite file read-only:
// SQLite's integrity check passes, the build holds want items, and no
// tester has two items under one key.
func crashCheckDatabase(t *testing.T, file string, bid int64, want int) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		t.Fatalf("open %s: %v", file, err)
	}
	defer db.Close()
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		problems = append(problems, line)
	}
	rows.Close()
	if len(problems) != 1 || problems[0] != "ok" {
		t.Fatalf("integrity_check of %s: %q", file, problems)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM feedback WHERE build_id = ?", bid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Errorf("the database holds %d items of the build, want %d", n, want)
	}
	var dups int
	if err := db.QueryRow(`SELECT count(*) FROM (SELECT tester_id, idempotency_key FROM feedback
		WHERE idempotency_key IS NOT NULL GROUP BY tester_id, idempotency_key HAVING count(*) > 1) AS d`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 0 {
		t.Errorf("%d keys have more than one item", dups)
	}
}
