package handlers_test

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestVote(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	ch := w.changes[0]
	path := fmt.Sprintf("/api/v1/changes/%d/vote", ch)
	e.checkRoles(t, w, roleCase{method: "PUT", path: static(path), body: func(string) any { return map[string]string{"vote": "revert"} },
		want: roles(403, 403, 403, 200, 404)})

	r := e.must(200, "PUT", path, w.tester.Token, map[string]string{"vote": "keep", "comment": "Feels better"})
	m := r.JSON(t)
	if m["change_id"] != float64(ch) || m["vote"] != "keep" || m["comment"] != "Feels better" || m["updated_at"] == nil {
		t.Errorf("vote: %s", r.Body)
	}
	// The last vote counts: one row, and the aggregates follow.
	if n := e.count("votes", "change_id = ? AND tester_id = ?", ch, w.tester.ID); n != 1 {
		t.Errorf("%d vote rows for one tester and change", n)
	}
	if k, rv := e.intCol("changes", "keep_votes", ch), e.intCol("changes", "revert_votes", ch); k != 1 || rv != 0 {
		t.Errorf("keep %d revert %d, want 1 0", k, rv)
	}
	e.vote(w.tester, ch, "revert")
	if k, rv := e.intCol("changes", "keep_votes", ch), e.intCol("changes", "revert_votes", ch); k != 0 || rv != 1 {
		t.Errorf("after changing the vote: keep %d revert %d, want 0 1", k, rv)
	}

	// A tester of another build, a missing change: 404 alike.
	hidden := e.do("PUT", path, w.other.Token, map[string]string{"vote": "keep"})
	missing := e.do("PUT", "/api/v1/changes/999999/vote", w.other.Token, map[string]string{"vote": "keep"})
	if hidden.Status != 404 || missing.Status != 404 || string(hidden.Body) != string(missing.Body) {
		t.Errorf("hidden change %d %s / missing change %d %s", hidden.Status, hidden.Body, missing.Status, missing.Body)
	}
	e.checkValidation(t, "PUT", path, w.tester.Token, []validationCase{
		{"no vote", map[string]string{}, "vote"},
		{"unknown vote", map[string]string{"vote": "maybe"}, "vote"},
		{"upper case", map[string]string{"vote": "KEEP"}, "vote"},
		{"long comment", map[string]string{"vote": "keep", "comment": strings.Repeat("c", 1001)}, "comment"},
		{"vote not a string", map[string]any{"vote": true}, "vote"},
	})
	e.checkBodyRules(t, "PUT", path, w.tester.Token)
	if k, rv := e.intCol("changes", "keep_votes", ch), e.intCol("changes", "revert_votes", ch); k != 0 || rv != 1 {
		t.Errorf("refused votes moved the counts: keep %d revert %d", k, rv)
	}
	if !contains(e.auditActions(fmt.Sprintf("&subject_type=change&subject_id=%d", ch)), "vote.cast") {
		t.Error("no vote.cast event")
	}
}

func TestCreateFeedback(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	path := fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid)
	e.checkRoles(t, w, roleCase{method: "POST", path: static(path), body: func(string) any { return map[string]any{"kind": "praise", "title": "Love it"} },
		want: roles(403, 403, 403, 201, 404)})

	r := e.must(201, "POST", path, w.tester.Token, map[string]any{
		"kind": "bug", "severity": "critical", "title": "  Crash on the map screen ", "body": "Steps: open the map",
		"change_id": w.changes[1], "platform": map[string]string{"os": "Windows 11", "device": "RTX 3060", "client_version": "1.4.2"},
	})
	m := r.JSON(t)
	if m["build_id"] != float64(w.bid) || m["change_id"] != float64(w.changes[1]) || m["tester_id"] != float64(w.tester.ID) ||
		m["kind"] != "bug" || m["severity"] != "critical" || m["title"] != "Crash on the map screen" || m["body"] != "Steps: open the map" ||
		m["status"] != "new" || m["created_at"] == nil || m["id"] == nil {
		t.Errorf("feedback: %s", r.Body)
	}
	if p, _ := m["platform"].(map[string]any); p["os"] != "Windows 11" || p["device"] != "RTX 3060" || p["client_version"] != "1.4.2" {
		t.Errorf("platform: %v", m["platform"])
	}
	// The aggregates moved with the row.
	if n := e.intCol("changes", "open_critical", w.changes[1]); n != 1 {
		t.Errorf("open_critical %d, want 1", n)
	}
	if n := e.intCol("builds", "bugs_critical", w.bid); n != 1 {
		t.Errorf("bugs_critical %d, want 1", n)
	}

	// Limits, at the edge: a 200-character title and a 10000-character body pass.
	e.must(201, "POST", path, w.tester.Token, map[string]any{"kind": "suggestion", "title": strings.Repeat("é", 200), "body": strings.Repeat("b", 10000)})
	// Severity is dropped for no kind but bugs; an empty one is no severity.
	r = e.must(201, "POST", path, w.tester.Token, map[string]any{"kind": "other", "title": "Note", "severity": ""})
	if r.JSON(t)["severity"] != nil {
		t.Errorf("severity on a note: %s", r.Body)
	}

	before := e.intCol("builds", "feedback_count", w.bid)
	e.checkValidation(t, "POST", path, w.tester.Token, []validationCase{
		{"no kind", map[string]any{"title": "T"}, "kind"},
		{"unknown kind", map[string]any{"kind": "rant", "title": "T"}, "kind"},
		{"bug without severity", map[string]any{"kind": "bug", "title": "T"}, "severity"},
		{"bug with an unknown severity", map[string]any{"kind": "bug", "severity": "urgent", "title": "T"}, "severity"},
		{"severity on a suggestion", map[string]any{"kind": "suggestion", "severity": "low", "title": "T"}, "severity"},
		{"severity on praise", map[string]any{"kind": "praise", "severity": "high", "title": "T"}, "severity"},
		{"no title", map[string]any{"kind": "praise"}, "title"},
		{"blank title", map[string]any{"kind": "praise", "title": "   "}, "title"},
		{"201-character title", map[string]any{"kind": "praise", "title": strings.Repeat("t", 201)}, "title"},
		{"10001-character body", map[string]any{"kind": "praise", "title": "T", "body": strings.Repeat("b", 10001)}, "body"},
		{"change of another build", map[string]any{"kind": "praise", "title": "T", "change_id": w.otherChanges[0]}, "change_id"},
		{"change that does not exist", map[string]any{"kind": "praise", "title": "T", "change_id": 999999}, "change_id"},
		{"change_id 0", map[string]any{"kind": "praise", "title": "T", "change_id": 0}, "change_id"},
		{"change_id a string", map[string]any{"kind": "praise", "title": "T", "change_id": "PG-1"}, "change_id"},
		{"long platform.os", map[string]any{"kind": "praise", "title": "T", "platform": map[string]string{"os": strings.Repeat("o", 101)}}, "platform.os"},
		{"title a number", map[string]any{"kind": "praise", "title": 5}, "title"},
	})
	wantError(t, e.do("POST", path, w.tester.Token, map[string]any{"kind": "praise", "title": "T", "status": "resolved"}), 400, "invalid_json", "")
	wantError(t, e.do("POST", path, w.tester.Token, map[string]any{"kind": "praise", "title": "T", "tester_id": w.other.ID}), 400, "invalid_json", "")
	wantError(t, e.do("POST", path, w.tester.Token, map[string]any{"kind": "praise", "title": "T", "platform": map[string]string{"gpu": "x"}}), 400, "invalid_json", "")
	e.checkBodyRules(t, "POST", path, w.tester.Token)
	if after := e.intCol("builds", "feedback_count", w.bid); after != before {
		t.Errorf("refused items moved feedback_count from %d to %d", before, after)
	}
	wantError(t, e.do("POST", "/api/v1/builds/999999/feedback", w.tester.Token, map[string]any{"kind": "praise", "title": "T"}), 404, "not_found", "")
}

func TestFeedbackAfterClose(t *testing.T) {
	e := newEnv(t)
	closes := time.Now().Add(5 * time.Minute).UTC()
	bid, changes := e.build(1, map[string]any{"closes_at": closes.Format(time.RFC3339)})
	tt := e.tester(bid)
	fid := e.bug(tt, bid, &changes[0], "low", "Before the close")
	e.vote(tt, changes[0], "keep")
	keyed := map[string]any{"kind": "other", "title": "Filed just before the close"}
	first := id(t, e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tt.Token, keyed, "Idempotency-Key", "late-retry"))

	e.setClock(closes.Add(time.Minute))
	// A retry of an item filed before the close still gets that item.
	if again := id(t, e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tt.Token, keyed, "Idempotency-Key", "late-retry")); again != first {
		t.Errorf("retry after the close answered item %d, want %d", again, first)
	}
	wantError(t, e.do("PUT", fmt.Sprintf("/api/v1/changes/%d/vote", changes[0]), tt.Token, map[string]string{"vote": "revert"}), 409, "conflict", "")
	wantError(t, e.feedback(tt, bid, map[string]any{"kind": "praise", "title": "After the close"}), 409, "conflict", "")
	// Reading still works.
	e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), tt.Token, nil)
	e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/changes", bid), tt.Token, nil)
	if got := ids(t, e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tt.Token, nil)); len(got) != 2 || got[1] != fid {
		t.Errorf("feedback after close: %v", got)
	}
	e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), tt.Token, nil)
	// Nothing was stored by the refused calls.
	if n := e.count("feedback", "build_id = ?", bid); n != 2 {
		t.Errorf("%d feedback rows, want 2", n)
	}
	if n := e.count("votes", "change_id = ? AND vote = ?", changes[0], "revert"); n != 0 {
		t.Errorf("a vote after the close was stored")
	}
	// Staff can reopen by moving closes_at.
	e.login(e.admin)
	e.must(200, "PATCH", fmt.Sprintf("/api/v1/builds/%d", bid), e.admin.Token, map[string]any{"closes_at": nil})
	e.vote(tt, changes[0], "revert")
}

func TestFeedbackIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	body := map[string]any{"kind": "bug", "severity": "high", "title": "Frame drops in the forest", "change_id": w.changes[0]}

	first := e.feedback(w.tester, w.bid, body, "Idempotency-Key", "retry-1")
	if first.Status != 201 {
		t.Fatalf("first: %d %s", first.Status, first.Body)
	}
	again := e.feedback(w.tester, w.bid, body, "Idempotency-Key", "retry-1")
	if again.Status != 200 || id(t, again) != id(t, first) {
		t.Fatalf("retry: %d %s, want 200 with id %d", again.Status, again.Body, id(t, first))
	}
	if n := e.count("feedback", "build_id = ?", w.bid); n != 1 {
		t.Errorf("%d rows after a retry, want 1", n)
	}
	if n := e.intCol("builds", "feedback_count", w.bid); n != 1 {
		t.Errorf("feedback_count %d after a retry, want 1", n)
	}
	if n := e.intCol("changes", "open_high", w.changes[0]); n != 1 {
		t.Errorf("open_high %d after a retry, want 1", n)
	}
	// The key is the tester's own: another tester with the same key files anew.
	second := e.tester(w.bid)
	if r := e.feedback(second, w.bid, body, "Idempotency-Key", "retry-1"); r.Status != 201 || id(t, r) == id(t, first) {
		t.Errorf("another tester's same key: %d %s", r.Status, r.Body)
	}
	// Without a key every POST is a new item.
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, body)
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, body)
	wantError(t, e.feedback(w.tester, w.bid, body, "Idempotency-Key", strings.Repeat("k", 201)), 400, "validation_failed", "Idempotency-Key")

	// Retries racing each other still store one item.
	const n = 8
	statuses := make([]int, n)
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.feedback(w.tester, w.bid, map[string]any{"kind": "praise", "title": "Great music"}, "Idempotency-Key", "race-1")
			statuses[i] = r.Status
			var m struct{ ID int64 }
			_ = json.Unmarshal(r.Body, &m)
			ids[i] = m.ID
		}(i)
	}
	wg.Wait()
	created := 0
	for i := range statuses {
		switch statuses[i] {
		case 201:
			created++
		case 200:
		default:
			t.Errorf("racing retry %d: status %d", i, statuses[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("racing retries answered ids %v", ids)
			break
		}
	}
	if created != 1 {
		t.Errorf("%d racing retries created an item, want 1 (statuses %v)", created, statuses)
	}
	if c := e.count("feedback", "idempotency_key = ?", "race-1"); c != 1 {
		t.Errorf("%d rows for the raced key, want 1", c)
	}
}

func TestListFeedback(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	path := fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 200, 404)})

	second := e.tester(w.bid)
	mine := []int64{
		e.bug(w.tester, w.bid, &w.changes[0], "critical", "Crash in the harbour"),
		id(t, e.must(201, "POST", path, w.tester.Token, map[string]any{"kind": "suggestion", "title": "Bigger map font", "body": "the harbour labels"})),
		e.bug(w.tester, w.bid, &w.changes[1], "low", "Typo in credits"),
	}
	theirs := e.bug(second, w.bid, nil, "medium", "Lag in the harbour")

	// A tester lists only their own, newest first; staff list everything.
	if got := ids(t, e.must(200, "GET", path, w.tester.Token, nil)); fmt.Sprint(got) != fmt.Sprint([]int64{mine[2], mine[1], mine[0]}) {
		t.Errorf("tester lists %v", got)
	}
	if got := ids(t, e.must(200, "GET", path, second.Token, nil)); fmt.Sprint(got) != fmt.Sprint([]int64{theirs}) {
		t.Errorf("second tester lists %v", got)
	}
	if got := ids(t, e.must(200, "GET", path, w.po.Token, nil)); fmt.Sprint(got) != fmt.Sprint([]int64{theirs, mine[2], mine[1], mine[0]}) {
		t.Errorf("staff lists %v", got)
	}
	it := e.must(200, "GET", path, w.po.Token, nil).Items(t)[0]
	if it["tester_name"] != second.Name || it["title"] != "Lag in the harbour" {
		t.Errorf("list item: %v", it)
	}

	// Filters.
	for q, want := range map[string][]int64{
		"kind=bug":          {theirs, mine[2], mine[0]},
		"kind=suggestion":   {mine[1]},
		"severity=critical": {mine[0]},
		"status=new":        {theirs, mine[2], mine[1], mine[0]},
		"status=resolved":   nil,
		fmt.Sprintf("change_id=%d", w.changes[1]): {mine[2]},
		"q=harbour":                           {theirs, mine[1], mine[0]},
		"q=HARBOUR+crash":                     {mine[0]},
		"q=harb":                              {theirs, mine[1], mine[0]}, // words of three letters or more match as prefixes
		"q=cre":                               {mine[2]},
		"q=in":                                {theirs, mine[2], mine[0]}, // shorter ones as whole words
		"q=cr":                                nil,
		"q=ma+the":                            nil,
		"q=100%25":                            nil,
		"kind=bug&severity=medium":            {theirs},
		"kind=suggestion&severity=critical":   nil, // only bugs have a severity
		"severity=critical&status=new":        {mine[0]},
		"kind=bug&severity=medium&status=new": {theirs},
		"severity=low&status=resolved":        nil,
		// A change with the other filters (walked through the change's index).
		fmt.Sprintf("change_id=%d&kind=bug&severity=critical&status=new", w.changes[0]): {mine[0]},
		fmt.Sprintf("change_id=%d&status=resolved", w.changes[0]):                       nil,
		fmt.Sprintf("change_id=%d&severity=critical", w.changes[1]):                     nil,
		fmt.Sprintf("change_id=%d&kind=bug&q=typo", w.changes[1]):                       {mine[2]},
	} {
		if got := ids(t, e.must(200, "GET", path+"?"+q, e.admin.Token, nil)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("?%s: %v, want %v", q, got, want)
		}
	}
	if got := ids(t, e.must(200, "GET", path+"?kind=bug", w.tester.Token, nil)); fmt.Sprint(got) != fmt.Sprint([]int64{mine[2], mine[0]}) {
		t.Errorf("tester ?kind=bug: %v", got)
	}
	for q, field := range map[string]string{
		"kind=rant": "kind", "severity=urgent": "severity", "status=open": "status", "change_id=x": "change_id",
		"q=" + strings.Repeat("q", 201): "q", "limit=0": "limit", "limit=201": "limit", "limit=-1": "limit", "limit=ten": "limit",
		"cursor=garbage": "cursor", "cursor=aTA": "cursor",
	} {
		wantError(t, e.do("GET", path+"?"+q, e.admin.Token, nil), 400, "validation_failed", field)
	}
}

func TestFeedbackPagination(t *testing.T) {
	e := newEnv(t)
	bid, _ := e.build(0)
	tt := e.tester(bid)
	for i := 0; i < 7; i++ {
		e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tt.Token, map[string]any{"kind": "praise", "title": fmt.Sprintf("Item %d", i)})
	}
	path := fmt.Sprintf("/api/v1/builds/%d/feedback", bid)
	for _, token := range []string{tt.Token, e.admin.Token} {
		want := ids(t, e.must(200, "GET", path+"?limit=200", token, nil))
		var got []int64
		var pages []int
		cursor := ""
		for i := 0; i < 10; i++ {
			q := path + "?limit=3"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			r := e.must(200, "GET", q, token, nil)
			page := ids(t, r)
			pages = append(pages, len(page))
			got = append(got, page...)
			if i == 0 {
				// An item filed between pages shifts nothing: no item is skipped or repeated.
				e.must(201, "POST", path, tt.Token, map[string]any{"kind": "praise", "title": "Late item"})
			}
			if cursor = nextCursor(t, r); cursor == "" {
				break
			}
		}
		wantPages := fmt.Sprint([]int{3, 3, len(want) - 6})
		if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(pages) != wantPages {
			t.Errorf("pages %v gave %v, want %v in pages %s", pages, got, want, wantPages)
		}
	}
	// Exactly one page full: no next cursor.
	all := ids(t, e.must(200, "GET", path+"?limit=200", e.admin.Token, nil))
	r := e.must(200, "GET", path+fmt.Sprintf("?limit=%d", len(all)), e.admin.Token, nil)
	if len(ids(t, r)) != len(all) || nextCursor(t, r) != "" {
		t.Errorf("next_cursor after the last item: %s", r.Body)
	}
	// Without limit, 50 per page.
	for i := 0; i < 50; i++ {
		e.must(201, "POST", path, tt.Token, map[string]any{"kind": "other", "title": fmt.Sprintf("Bulk %d", i)})
	}
	r = e.must(200, "GET", path, e.admin.Token, nil)
	if len(ids(t, r)) != 50 || nextCursor(t, r) == "" {
		t.Errorf("default page: %d items, next %q", len(ids(t, r)), nextCursor(t, r))
	}
}

func TestGetFeedback(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	fid := e.bug(w.tester, w.bid, &w.changes[0], "high", "Enemies walk through walls")
	path := fmt.Sprintf("/api/v1/feedback/%d", fid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 200, 404)})

	// Another tester of the same build cannot read it either.
	peer := e.tester(w.bid)
	hidden := e.do("GET", path, peer.Token, nil)
	missing := e.do("GET", "/api/v1/feedback/999999", peer.Token, nil)
	wantError(t, hidden, 404, "not_found", "")
	if string(hidden.Body) != string(missing.Body) {
		t.Errorf("hidden item %s, missing item %s", hidden.Body, missing.Body)
	}
	m := e.must(200, "GET", path, w.tester.Token, nil).JSON(t)
	if m["id"] != float64(fid) || m["title"] != "Enemies walk through walls" || m["severity"] != "high" {
		t.Errorf("item: %v", m)
	}
	if c, ok := m["comments"].([]any); !ok || len(c) != 0 {
		t.Errorf("comments: %v", m["comments"])
	}
	if a, ok := m["attachments"].([]any); !ok || len(a) != 0 {
		t.Errorf("attachments: %v", m["attachments"])
	}
	wantError(t, e.do("GET", "/api/v1/feedback/abc", e.admin.Token, nil), 404, "not_found", "")
}

func TestTriageFeedback(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	ch := w.changes[0]
	fid := e.bug(w.tester, w.bid, &ch, "critical", "Save file corrupted")
	path := fmt.Sprintf("/api/v1/feedback/%d", fid)
	e.checkRoles(t, w, roleCase{method: "PATCH", path: static(path), body: func(string) any { return map[string]string{"status": "acknowledged"} },
		want: roles(200, 200, 200, 403, 403)})

	r := e.must(200, "PATCH", path, w.po.Token, map[string]string{"status": "in_progress"})
	if m := r.JSON(t); m["status"] != "in_progress" || m["id"] != float64(fid) {
		t.Errorf("triage: %s", r.Body)
	}
	if n := e.intCol("changes", "open_critical", ch); n != 1 {
		t.Errorf("open_critical %d while in progress, want 1", n)
	}
	e.must(200, "PATCH", path, w.po.Token, map[string]string{"status": "resolved"})
	if n := e.intCol("changes", "open_critical", ch); n != 0 {
		t.Errorf("open_critical %d once resolved, want 0", n)
	}
	e.must(200, "PATCH", path, w.po.Token, map[string]string{"status": "new"})
	if n := e.intCol("changes", "open_critical", ch); n != 1 {
		t.Errorf("open_critical %d once reopened, want 1", n)
	}
	// The tester sees the new status.
	if m := e.must(200, "GET", path, w.tester.Token, nil).JSON(t); m["status"] != "new" {
		t.Errorf("tester sees %v", m["status"])
	}

	orig := e.bug(w.tester, w.bid, &ch, "critical", "Save file lost")
	other := e.bug(w.other, w.otherBid, nil, "low", "Elsewhere")
	r = e.must(200, "PATCH", path, e.admin.Token, map[string]any{"status": "duplicate", "duplicate_of": orig})
	if m := r.JSON(t); m["status"] != "duplicate" || m["duplicate_of"] != float64(orig) {
		t.Errorf("duplicate: %s", r.Body)
	}
	if n := e.intCol("changes", "open_critical", ch); n != 1 {
		t.Errorf("open_critical %d after folding a duplicate, want 1 (the original)", n)
	}
	e.checkValidation(t, "PATCH", path, e.admin.Token, []validationCase{
		{"no status", map[string]any{}, "status"},
		{"unknown status", map[string]any{"status": "closed"}, "status"},
		{"duplicate without duplicate_of", map[string]any{"status": "duplicate"}, "duplicate_of"},
		{"duplicate of another build's item", map[string]any{"status": "duplicate", "duplicate_of": other}, "duplicate_of"},
		{"duplicate of a missing item", map[string]any{"status": "duplicate", "duplicate_of": 999999}, "duplicate_of"},
		{"duplicate_of without duplicate", map[string]any{"status": "resolved", "duplicate_of": orig}, "duplicate_of"},
	})
	wantError(t, e.do("PATCH", fmt.Sprintf("/api/v1/feedback/%d", orig), e.admin.Token, map[string]any{"status": "duplicate", "duplicate_of": orig}), 400, "validation_failed", "duplicate_of")
	e.checkBodyRules(t, "PATCH", path, e.admin.Token)
	wantError(t, e.do("PATCH", "/api/v1/feedback/999999", e.admin.Token, map[string]any{"status": "resolved"}), 404, "not_found", "")
	if !contains(e.auditActions(fmt.Sprintf("&subject_type=feedback&subject_id=%d", fid)), "feedback.triaged") {
		t.Error("no feedback.triaged event")
	}

	// Triagers racing on one item keep the open-bug count right.
	racing := e.bug(w.tester, w.bid, &ch, "critical", "Racing triage")
	before := e.intCol("changes", "open_critical", ch)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status := []string{"resolved", "wont_fix"}[i%2]
			if r := e.do("PATCH", fmt.Sprintf("/api/v1/feedback/%d", racing), e.admin.Token, map[string]string{"status": status}); r.Status != 200 {
				t.Errorf("racing triage: %d %s", r.Status, r.Body)
			}
		}(i)
	}
	wg.Wait()
	if n := e.intCol("changes", "open_critical", ch); n != before-1 {
		t.Errorf("open_critical %d after racing triage, want %d", n, before-1)
	}
}

func TestComments(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	fid := e.bug(w.tester, w.bid, nil, "medium", "Music stops")
	path := fmt.Sprintf("/api/v1/feedback/%d/comments", fid)
	e.checkRoles(t, w, roleCase{method: "POST", path: static(path), body: func(who string) any { return map[string]string{"body": "Note from " + who} },
		want: roles(201, 201, 201, 201, 404)})

	peer := e.tester(w.bid)
	wantError(t, e.do("POST", path, peer.Token, map[string]string{"body": "Me too"}), 404, "not_found", "")

	r := e.must(201, "POST", path, w.po.Token, map[string]string{"body": "Which level?"})
	m := r.JSON(t)
	if m["feedback_id"] != float64(fid) || m["author_id"] != float64(w.po.ID) || m["staff"] != true || m["body"] != "Which level?" || m["author_name"] != w.po.Name {
		t.Errorf("comment: %s", r.Body)
	}
	r = e.must(201, "POST", path, w.tester.Token, map[string]string{"body": "Level 3"})
	if r.JSON(t)["staff"] != false {
		t.Errorf("tester comment marked staff: %s", r.Body)
	}
	// The tester sees the staff reply, oldest first.
	item := e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), w.tester.Token, nil).JSON(t)
	comments, _ := item["comments"].([]any)
	if len(comments) != 6 {
		t.Fatalf("%d comments, want 6: %v", len(comments), comments)
	}
	last := comments[5].(map[string]any)
	prev := comments[4].(map[string]any)
	if prev["body"] != "Which level?" || prev["staff"] != true || last["body"] != "Level 3" {
		t.Errorf("conversation: %v", comments)
	}
	if item["comment_count"] != float64(6) || item["last_staff_reply_at"] == nil {
		t.Errorf("comment_count/last_staff_reply_at: %v %v", item["comment_count"], item["last_staff_reply_at"])
	}
	e.checkValidation(t, "POST", path, w.tester.Token, []validationCase{
		{"no body", map[string]string{}, "body"},
		{"blank body", map[string]string{"body": "  \n "}, "body"},
		{"long body", map[string]string{"body": strings.Repeat("b", 10001)}, "body"},
	})
	e.checkBodyRules(t, "POST", path, w.tester.Token)
	if n := e.count("comments", "feedback_id = ?", fid); n != 6 {
		t.Errorf("%d comments stored, want 6", n)
	}
	wantError(t, e.do("POST", "/api/v1/feedback/999999/comments", e.admin.Token, map[string]string{"body": "x"}), 404, "not_found", "")
	if !contains(e.auditActions(fmt.Sprintf("&subject_type=feedback&subject_id=%d", fid)), "comment.created") {
		t.Error("no comment.created event")
	}
}

func TestExportCSV(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	path := fmt.Sprintf("/api/v1/builds/%d/feedback.csv", w.bid)
	e.bug(w.tester, w.bid, &w.changes[0], "high", "=HYPERLINK(\"http://evil.example\")")
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, map[string]any{"kind": "suggestion", "title": "Commas, \"quotes\"\nand lines", "body": "Ünïcödé ✓"})
	e.bug(w.other, w.otherBid, nil, "low", "Not in this build")
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 403, 403)})

	r := e.must(200, "GET", path, w.po.Token, nil)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.Body)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want a header and 2 items:\n%s", len(rows), r.Body)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"id", "kind", "severity", "status", "title", "body", "change_key", "tester_name"} {
		if _, ok := col[h]; !ok {
			t.Errorf("no %q column: %v", h, rows[0])
		}
	}
	if got := rows[1][col["title"]]; got != "'=HYPERLINK(\"http://evil.example\")" {
		t.Errorf("formula not neutralised: %q", got)
	}
	if rows[1][col["change_key"]] != "PG-1" || rows[1][col["severity"]] != "high" || rows[1][col["tester_name"]] != w.tester.Name {
		t.Errorf("row: %v", rows[1])
	}
	if rows[2][col["title"]] != "Commas, \"quotes\"\nand lines" || rows[2][col["body"]] != "Ünïcödé ✓" || rows[2][col["severity"]] != "" {
		t.Errorf("row: %v", rows[2])
	}
	wantError(t, e.do("GET", "/api/v1/builds/999999/feedback.csv", e.admin.Token, nil), 404, "not_found", "")
	// An empty build exports just the header.
	empty, _ := e.build(0)
	r = e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv", empty), e.admin.Token, nil)
	if rows, _ := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll(); len(rows) != 1 {
		t.Errorf("empty export: %q", r.Body)
	}
}
