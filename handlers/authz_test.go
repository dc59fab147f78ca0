package handlers_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestRevokedTesterCutOff: revoking a grant ends the tester's access to the
// build, its changes, its feedback and attachments on the very next request.
func TestRevokedTesterCutOff(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	ch := w.changes[0]
	e.vote(w.tester, ch, "keep")
	fid := e.bug(w.tester, w.bid, &ch, "medium", "Door does not open")
	aid := id(t, e.upload(w.tester.Token, fid, "door.png", pngBytes(t, 2, 2)))
	if k := e.intCol("changes", "keep_votes", ch); k != 1 {
		t.Fatalf("keep_votes %d", k)
	}

	e.must(204, "DELETE", fmt.Sprintf("/api/v1/builds/%d/testers/%d", w.bid, w.tester.ID), w.po.Token, nil)

	tok := w.tester.Token
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), nil},
		{"GET", fmt.Sprintf("/api/v1/builds/%d/changes", w.bid), nil},
		{"GET", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), nil},
		{"GET", fmt.Sprintf("/api/v1/feedback/%d", fid), nil},
		{"GET", fmt.Sprintf("/api/v1/attachments/%d", aid), nil},
		{"PUT", fmt.Sprintf("/api/v1/changes/%d/vote", ch), map[string]string{"vote": "revert"}},
		{"POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), map[string]any{"kind": "praise", "title": "Still here?"}},
		{"POST", fmt.Sprintf("/api/v1/feedback/%d/comments", fid), map[string]string{"body": "Hello?"}},
	} {
		wantErrorf(t, e.do(c.method, c.path, tok, c.body), 404, "not_found", "revoked tester %s %s", c.method, c.path)
	}
	wantError(t, e.upload(tok, fid, "more.png", pngBytes(t, 2, 2)), 404, "not_found", "")
	if got := ids(t, e.must(200, "GET", "/api/v1/builds", tok, nil)); len(got) != 0 {
		t.Errorf("revoked tester still lists builds %v", got)
	}
	// Their vote stops counting; their feedback stays for staff.
	if k := e.intCol("changes", "keep_votes", ch); k != 0 {
		t.Errorf("keep_votes %d after revoking the voter, want 0", k)
	}
	e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), w.po.Token, nil)
	// The account itself still works.
	e.must(200, "GET", "/api/v1/me", tok, nil)

	// Invited again, the tester gets the build back with their vote.
	inv := e.invite(w.bid, w.tester.Email)
	e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": inv, "password": w.tester.Password})
	e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), tok, nil)
	if k := e.intCol("changes", "keep_votes", ch); k != 1 {
		t.Errorf("keep_votes %d after granting again, want 1", k)
	}
}

func wantErrorf(t *testing.T, r resp, status int, code, format string, args ...any) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Errorf("%s: %d %q, want %d %q: %s", fmt.Sprintf(format, args...), r.Status, r.Code(), status, code, r.Body)
	}
}

// TestHiddenLooksMissing: for a tester without a grant, everything of
// another build answers exactly like something that does not exist.
func TestHiddenLooksMissing(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	fid := e.bug(w.tester, w.bid, &w.changes[0], "low", "Hidden bug")
	aid := id(t, e.upload(w.tester.Token, fid, "a.png", pngBytes(t, 1, 1)))
	const missing = 999999
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/builds/%d", nil},
		{"GET", "/api/v1/builds/%d/changes", nil},
		{"GET", "/api/v1/builds/%d/feedback", nil},
		{"POST", "/api/v1/builds/%d/feedback", map[string]any{"kind": "praise", "title": "Hi"}},
		{"GET", "/api/v1/builds/%d/similar?title=hidden", nil},
	} {
		hidden := e.do(c.method, fmt.Sprintf(c.path, w.bid), w.other.Token, c.body)
		gone := e.do(c.method, fmt.Sprintf(c.path, missing), w.other.Token, c.body)
		if hidden.Status != 404 || string(hidden.Body) != string(gone.Body) {
			t.Errorf("%s %s: hidden %d %s, missing %d %s", c.method, c.path, hidden.Status, hidden.Body, gone.Status, gone.Body)
		}
	}
	for _, c := range []struct {
		method, path string
		id           int64
		body         any
	}{
		{"PUT", "/api/v1/changes/%d/vote", w.changes[0], map[string]string{"vote": "keep"}},
		{"GET", "/api/v1/feedback/%d", fid, nil},
		{"POST", "/api/v1/feedback/%d/comments", fid, map[string]string{"body": "hi"}},
		{"GET", "/api/v1/attachments/%d", aid, nil},
	} {
		hidden := e.do(c.method, fmt.Sprintf(c.path, c.id), w.other.Token, c.body)
		gone := e.do(c.method, fmt.Sprintf(c.path, missing), w.other.Token, c.body)
		if hidden.Status != 404 || string(hidden.Body) != string(gone.Body) {
			t.Errorf("%s %s: hidden %d %s, missing %d %s", c.method, c.path, hidden.Status, hidden.Body, gone.Status, gone.Body)
		}
	}
}

// TestWritesAreAtomic: a refused write leaves nothing behind, not a row,
// not a moved aggregate, not an audit event.
func TestWritesAreAtomic(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	ch := w.changes[0]
	e.bug(w.tester, w.bid, &ch, "critical", "Baseline")
	snapshot := func() string {
		return fmt.Sprint(e.count("feedback", ""), e.count("audit_events", ""), e.count("users", ""), e.count("grants", ""),
			e.intCol("builds", "feedback_count", w.bid), e.intCol("builds", "bugs_critical", w.bid), e.intCol("changes", "open_critical", ch),
			e.intCol("builds", "feedback_count", w.otherBid))
	}
	before := snapshot()

	// A bug against a change of another build.
	wantError(t, e.feedback(w.tester, w.bid, map[string]any{"kind": "bug", "severity": "critical", "title": "Wrong change", "change_id": w.otherChanges[0]}), 400, "validation_failed", "change_id")
	// Against a change that does not exist.
	wantError(t, e.feedback(w.tester, w.bid, map[string]any{"kind": "bug", "severity": "critical", "title": "No change", "change_id": 999999}), 400, "validation_failed", "change_id")
	if after := snapshot(); after != before {
		t.Errorf("refused feedback changed the database: %s → %s", before, after)
	}
	// A redeem that fails validation, and one with the wrong password of an existing account.
	tok := e.invite(w.bid, "atomic@example.com")
	tok2 := e.invite(w.bid, w.other.Email)
	before = snapshot() // the invites are writes of their own
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok, "password": "a-good-password"}), 400, "validation_failed", "name")
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok, "name": "A", "password": "short"}), 400, "validation_failed", "password")
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok2, "password": "not-their-password"}), 401, "unauthorized", "")
	// Users, products, builds and changes refused.
	e.do("POST", "/api/v1/users", e.admin.Token, map[string]string{"email": w.rm.Email, "name": "Dup", "role": "tester", "password": "a-good-password"})
	e.do("POST", "/api/v1/products/999999/builds", e.admin.Token, map[string]string{"version": "1"})
	e.do("POST", fmt.Sprintf("/api/v1/builds/%d/changes", w.bid), e.admin.Token, map[string]string{"key": "PG-1", "title": "Duplicate key"})
	if after := snapshot(); after != before {
		t.Errorf("refused writes changed the database: %s → %s", before, after)
	}
	if n := e.count("users", "email = ?", "atomic@example.com"); n != 0 {
		t.Errorf("a refused redeem created the account")
	}
	// Both invites are still pending.
	for _, it := range e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/invites", w.bid), e.admin.Token, nil).Items(t) {
		if (it["email"] == "atomic@example.com" || it["email"] == w.other.Email) && it["status"] != "pending" {
			t.Errorf("invite %v after refused redeems", it)
		}
	}

	// Many redeems of one invite racing: one account, one grant, one winner.
	race := e.invite(w.bid, "racer@example.com")
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": race, "name": fmt.Sprintf("Racer %d", i), "password": "racer-password"}).Status
		}(i)
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case 201:
			won++
		case 410:
		default:
			t.Errorf("racing redeem: status %d", s)
		}
	}
	if won != 1 || e.count("users", "email = ?", "racer@example.com") != 1 {
		t.Errorf("racing redeems: %v, %d accounts", statuses, e.count("users", "email = ?", "racer@example.com"))
	}
	if n := e.count("grants", "build_id = ? AND user_id IN (SELECT id FROM users WHERE email = ?)", w.bid, "racer@example.com"); n != 1 {
		t.Errorf("%d grants for the racer", n)
	}
}

// TestErrorEnvelope: unknown routes and methods answer the contract's
// envelope; errors never carry SQL or stack traces.
func TestErrorEnvelope(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.do("GET", "/api/v1/no-such-thing", e.admin.Token, nil), 404, "not_found", "")
	r := e.do("DELETE", "/api/v1/products", e.admin.Token, nil)
	if r.Status != 405 || r.Code() == "" {
		t.Errorf("wrong method: %d %s", r.Status, r.Body)
	}
	// Odd ids never reach the database as SQL.
	for _, p := range []string{"/api/v1/builds/1%20OR%201=1", "/api/v1/feedback/9999999999999999999999", "/api/v1/builds/0", "/api/v1/users/1;DROP"} {
		r := e.do("GET", p, e.admin.Token, nil)
		if r.Status != 404 && r.Status != 405 {
			t.Errorf("%s: %d %s", p, r.Status, r.Body)
		}
		if s := strings.ToLower(string(r.Body)); strings.Contains(s, "sql") || strings.Contains(s, "goroutine") {
			t.Errorf("%s leaks internals: %s", p, r.Body)
		}
	}
	// A JSON body with the wrong Content-Type still parses; multipart is refused.
	req := newRequest("POST", "/api/v1/products", strings.NewReader(`{"name":"Plain","slug":"plain"}`), e.admin.Token)
	req.Header.Set("Content-Type", "text/plain")
	if r := e.sendRaw(req); r.Status != 201 {
		t.Errorf("text/plain JSON body: %d %s", r.Status, r.Body)
	}
	req = newRequest("POST", "/api/v1/products", strings.NewReader("--b--\r\n"), e.admin.Token)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	wantError(t, e.sendRaw(req), 415, "unsupported_media_type", "")
	// API answers are not cached.
	if cc := e.must(200, "GET", "/api/v1/me", e.admin.Token, nil).Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}
