package handlers_test

import (
	"fmt"
	"sync"
	"testing"
)

func TestTriageDuplicatesAndReplies(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	orig := e.bug(w.tester, w.bid, &w.changes[0], "critical", "Crash when the boss spawns")
	dup := e.bug(w.tester, w.bid, &w.changes[0], "critical", "Boss spawn crash")
	foreign := e.bug(w.other, w.otherBid, nil, "low", "Elsewhere")
	path := func(id int64) string { return fmt.Sprintf("/api/v1/feedback/%d", id) }
	if oc := line(t, e.reportOf(w.bid), w.changes[0])["open_bugs"].(map[string]any)["critical"]; oc.(float64) != 2 {
		t.Fatalf("open critical bugs: %v", oc)
	}

	// Validation of duplicate_of: same build only, not itself, only with status duplicate.
	wantError(t, e.do("PATCH", path(dup), e.admin.Token, map[string]any{"status": "duplicate"}), 400, "validation_failed", "duplicate_of")
	wantError(t, e.do("PATCH", path(dup), e.admin.Token, map[string]any{"status": "duplicate", "duplicate_of": foreign}), 400, "validation_failed", "duplicate_of")
	wantError(t, e.do("PATCH", path(dup), e.admin.Token, map[string]any{"status": "duplicate", "duplicate_of": dup}), 400, "validation_failed", "duplicate_of")
	wantError(t, e.do("PATCH", path(dup), e.admin.Token, map[string]any{"status": "resolved", "duplicate_of": orig}), 400, "validation_failed", "duplicate_of")
	wantError(t, e.do("PATCH", path(dup), e.admin.Token, map[string]any{"status": "closed"}), 400, "validation_failed", "status")

	// Marking a duplicate closes it and folds it into the original's count.
	r := e.must(200, "PATCH", path(dup), w.po.Token, map[string]any{"status": "duplicate", "duplicate_of": orig}).JSON(t)
	if r["status"] != "duplicate" || r["duplicate_of"].(float64) != float64(orig) {
		t.Fatalf("triaged: %v", r)
	}
	if d := e.must(200, "GET", path(orig), e.admin.Token, nil).JSON(t)["duplicates"]; d.(float64) != 1 {
		t.Fatalf("original's duplicates: %v", d)
	}
	if oc := line(t, e.reportOf(w.bid), w.changes[0])["open_bugs"].(map[string]any)["critical"]; oc.(float64) != 1 {
		t.Fatalf("open critical bugs after folding: %v", oc)
	}
	// Un-marking it reopens it and unfolds it.
	e.must(200, "PATCH", path(dup), e.admin.Token, map[string]any{"status": "acknowledged"})
	if d := e.must(200, "GET", path(orig), e.admin.Token, nil).JSON(t)["duplicates"]; d.(float64) != 0 {
		t.Fatalf("original's duplicates after unfolding: %v", d)
	}
	if oc := line(t, e.reportOf(w.bid), w.changes[0])["open_bugs"].(map[string]any)["critical"]; oc.(float64) != 2 {
		t.Fatalf("open critical bugs after unfolding: %v", oc)
	}

	// Staff reply; the tester sees it, marked as staff, with last_staff_reply_at set.
	e.must(201, "POST", path(orig)+"/comments", w.po.Token, map[string]string{"body": "Thanks, we can reproduce it."})
	e.must(201, "POST", path(orig)+"/comments", w.tester.Token, map[string]string{"body": "It happens on every run."})
	got := e.must(200, "GET", path(orig), w.tester.Token, nil).JSON(t)
	comments := got["comments"].([]any)
	if len(comments) != 2 || comments[0].(map[string]any)["staff"] != true || comments[1].(map[string]any)["staff"] != false ||
		got["last_staff_reply_at"] == nil || got["comment_count"].(float64) != 2 {
		t.Fatalf("tester's view: %v", got)
	}
	wantError(t, e.do("POST", path(orig)+"/comments", w.tester.Token, map[string]string{"body": ""}), 400, "validation_failed", "body")
	e.checkRoles(t, w, roleCase{method: "POST", path: static(path(orig) + "/comments"),
		body: func(string) any { return map[string]string{"body": "hello"} }, want: roles(201, 201, 201, 201, 404)})
	e.checkRoles(t, w, roleCase{method: "PATCH", path: static(path(orig)),
		body: func(string) any { return map[string]string{"status": "in_progress"} }, want: roles(200, 200, 200, 403, 403)})
}

func TestSimilarBugsOffered(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	first := e.bug(w.tester, w.bid, nil, "high", "Game crashes when opening the inventory")
	e.bug(w.tester, w.bid, nil, "low", "Music too loud in menus")
	e.bug(w.other, w.otherBid, nil, "high", "Game crashes when opening the inventory") // another build: never offered
	bug := map[string]any{"kind": "bug", "severity": "high", "title": "Crash opening inventory"}
	// The search is opt-in: without similar=true the answer has no list.
	r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, bug).JSON(t)
	if _, ok := r["similar"]; ok {
		t.Fatalf("similar without asking: %v", r)
	}
	wantError(t, e.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback?similar=yes", w.bid), w.tester.Token, bug), 400, "validation_failed", "similar")
	r = e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback?similar=true", w.bid), w.tester.Token, bug).JSON(t)
	sim := r["similar"].([]any)
	// The item filed just before without the list is a look-alike too.
	if len(sim) != 2 || sim[1].(map[string]any)["id"].(float64) != float64(first) || sim[1].(map[string]any)["score"].(float64) <= 0 {
		t.Fatalf("similar: %v", sim)
	}
	// Not a bug: an empty list.
	r = e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback?similar=true", w.bid), w.tester.Token,
		map[string]any{"kind": "suggestion", "title": "Crash opening inventory"}).JSON(t)
	if sim := r["similar"].([]any); len(sim) != 0 {
		t.Fatalf("similar for a suggestion: %v", sim)
	}
	items := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/similar?title=inventory+crashes", w.bid), w.tester.Token, nil).Items(t)
	if len(items) == 0 {
		t.Fatal("no similar items while typing")
	}
	e.checkRoles(t, w, roleCase{method: "GET", path: static(fmt.Sprintf("/api/v1/builds/%d/similar?title=crash", w.bid)), want: roles(200, 200, 200, 200, 404)})
}

// Keyset pagination neither skips nor repeats an item while new items arrive.
func TestFeedbackPagesStableUnderInserts(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	for i := 0; i < 25; i++ {
		e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, map[string]any{"kind": "other", "title": fmt.Sprintf("Item %d", i)})
	}
	seen := map[float64]bool{}
	cursor := ""
	var wg sync.WaitGroup
	for page := 0; ; page++ {
		url := fmt.Sprintf("/api/v1/builds/%d/feedback?limit=7", w.bid)
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		r := e.must(200, "GET", url, e.admin.Token, nil)
		for _, it := range r.Items(t) {
			id := it["id"].(float64)
			if seen[id] {
				t.Fatalf("item %v repeated", id)
			}
			seen[id] = true
		}
		if page == 0 { // new items arrive while the client pages
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					e.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, map[string]any{"kind": "other", "title": "late"})
				}
			}()
			wg.Wait()
		}
		next, _ := r.JSON(t)["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 25 {
		t.Fatalf("saw %d of the 25 items that existed when paging began", len(seen))
	}
	// Search and filters.
	e.bug(w.tester, w.bid, nil, "critical", "Save file corrupted")
	if items := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?q=corrupted+save", w.bid), e.admin.Token, nil).Items(t); len(items) != 1 {
		t.Fatalf("q search: %v", items)
	}
	if items := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?kind=bug&severity=critical&status=new", w.bid), e.admin.Token, nil).Items(t); len(items) != 1 {
		t.Fatalf("filters: %v", items)
	}
	if items := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?q=%%25", w.bid), e.admin.Token, nil).Items(t); len(items) != 0 {
		t.Fatalf("a literal %% matched: %v", items)
	}
}
