package handlers_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// reportOf reads a build's report as admin.
func (e *env) reportOf(bid int64) map[string]any {
	e.t.Helper()
	return e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), e.admin.Token, nil).JSON(e.t)
}

// line finds a change's line in a report.
func line(t *testing.T, rep map[string]any, changeID int64) map[string]any {
	t.Helper()
	for _, l := range rep["changes"].([]any) {
		m := l.(map[string]any)
		if int64(m["change"].(map[string]any)["id"].(float64)) == changeID {
			return m
		}
	}
	t.Fatalf("change %d not in report", changeID)
	return nil
}

func flagOf(t *testing.T, l map[string]any) (bool, string, []string) {
	t.Helper()
	f := l["flag"].(map[string]any)
	var reasons []string
	for _, r := range f["reasons"].([]any) {
		reasons = append(reasons, r.(string))
	}
	return f["flagged"].(bool), f["verdict"].(string), reasons
}

func TestReportFlagsChanges(t *testing.T) {
	e := newEnv(t)
	bid, ch := e.build(4)
	var testers []*actor
	for i := 0; i < 10; i++ {
		testers = append(testers, e.tester(bid))
	}
	// ch[0]: 7 of 10 revert → flagged; ch[1]: 5 of 10 → watch; ch[2]: 4 of 4 revert → insufficient; ch[3]: a critical bug.
	for i, tt := range testers {
		e.vote(tt, ch[0], map[bool]string{true: "revert", false: "keep"}[i < 7])
		e.vote(tt, ch[1], map[bool]string{true: "revert", false: "keep"}[i < 5])
		if i < 4 {
			e.vote(tt, ch[2], "revert")
		}
	}
	e.bug(testers[0], bid, &ch[3], "critical", "Crash on start")
	e.bug(testers[1], bid, &ch[3], "low", "Typo")
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), testers[2].Token, map[string]any{"kind": "praise", "title": "Love it"})

	rep := e.reportOf(bid)
	totals := rep["totals"].(map[string]any)
	if totals["feedback"].(float64) != 3 || totals["testers_granted"].(float64) != 10 || totals["testers_active"].(float64) != 10 {
		t.Fatalf("totals: %v", totals)
	}
	bugs := totals["bugs"].(map[string]any)
	if bugs["critical"].(float64) != 1 || bugs["low"].(float64) != 1 {
		t.Fatalf("bugs: %v", bugs)
	}
	l0 := line(t, rep, ch[0])
	if l0["revert_lower_bound"].(float64) != 0.3968 || l0["revert_share"].(float64) != 0.7 {
		t.Fatalf("line 0: %v", l0)
	}
	if flagged, verdict, reasons := flagOf(t, l0); !flagged || verdict != "revert" || len(reasons) != 1 ||
		reasons[0] != "7 of 10 testers voted revert: at 95% confidence at least 39.7% want it reverted, over the 30% threshold" {
		t.Fatalf("change 0 flag: %v %v %q", flagged, verdict, reasons)
	}
	if flagged, verdict, _ := flagOf(t, line(t, rep, ch[1])); flagged || verdict != "watch" {
		t.Fatalf("change 1: %v %v", flagged, verdict)
	}
	if flagged, verdict, _ := flagOf(t, line(t, rep, ch[2])); flagged || verdict != "insufficient" {
		t.Fatalf("change 2: %v %v", flagged, verdict)
	}
	l3 := line(t, rep, ch[3])
	if flagged, verdict, reasons := flagOf(t, l3); !flagged || verdict != "revert" || !strings.Contains(reasons[0], "1 open critical bug") {
		t.Fatalf("change 3: %v %v %q", flagged, verdict, reasons)
	}
	if ob := l3["open_bugs"].(map[string]any); ob["critical"].(float64) != 1 || ob["low"].(float64) != 1 {
		t.Fatalf("open bugs: %v", ob)
	}

	// A stricter policy unflags change 0 at once; an invalid one is refused field by field.
	e.must(200, "PATCH", fmt.Sprintf("/api/v1/builds/%d", bid), e.admin.Token, map[string]any{"policy": map[string]any{"revert_threshold": 0.5}})
	if flagged, _, _ := flagOf(t, line(t, e.reportOf(bid), ch[0])); flagged {
		t.Fatal("change 0 still flagged at threshold 0.5")
	}
	for field, v := range map[string]any{"min_votes": 0, "revert_threshold": 1.0, "confidence": 0.2, "block_severity": "urgent"} {
		r := e.do("PATCH", fmt.Sprintf("/api/v1/builds/%d", bid), e.admin.Token, map[string]any{"policy": map[string]any{field: v}})
		wantError(t, r, 400, "validation_failed", "policy."+field)
	}
	// Revoking testers removes their votes from the counts.
	for _, tt := range testers[:3] {
		e.must(204, "DELETE", fmt.Sprintf("/api/v1/builds/%d/testers/%d", bid, tt.ID), e.admin.Token, nil)
	}
	if v := line(t, e.reportOf(bid), ch[0])["votes"].(map[string]any); v["revert"].(float64) != 4 || v["keep"].(float64) != 3 {
		t.Fatalf("votes after revoking 3 revert voters: %v", v)
	}
}

func TestReleaseAuthorization(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	get := func(suffix string) func(string) string {
		return func(string) string { return fmt.Sprintf("/api/v1/builds/%d%s", w.bid, suffix) }
	}
	for _, c := range []roleCase{
		{method: "GET", path: get("/report"), want: roles(200, 200, 200, 403, 403)},
		{method: "GET", path: get("/gate"), want: roles(200, 200, 403, 403, 403)},
		{method: "GET", path: get("/release-notes"), want: roles(200, 200, 200, 403, 403)},
		{method: "POST", path: static(fmt.Sprintf("/api/v1/changes/%d/decision", w.changes[0])),
			body: func(string) any { return map[string]string{"decision": "reverted", "note": "no"} }, want: roles(200, 200, 403, 403, 403)},
		{method: "POST", path: get("/promote"), body: func(string) any { return map[string]string{"to": "production"} }, want: roles(409, 409, 403, 403, 403)},
		{method: "POST", path: static("/api/v1/products/999999/rollback"), want: roles(404, 404, 403, 403, 403)},
	} {
		e.checkRoles(t, w, c)
	}
}

func TestGateDecisionsPromotionRollback(t *testing.T) {
	e := newEnv(t)
	bid, ch := e.build(3)
	testers := []*actor{e.tester(bid), e.tester(bid), e.tester(bid), e.tester(bid), e.tester(bid)}
	for _, tt := range testers {
		e.vote(tt, ch[0], "revert") // 5 of 5: flagged
	}
	crash := e.bug(testers[0], bid, &ch[1], "critical", "Crash in the shop")
	promote := func(b int64, to string) resp {
		return e.do("POST", fmt.Sprintf("/api/v1/builds/%d/promote", b), e.admin.Token, map[string]string{"to": to})
	}
	blockers := func(r resp) []string {
		var m struct {
			Error struct {
				Code     string   `json:"code"`
				Blockers []string `json:"blockers"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.Body, &m); err != nil || r.Status != 409 || m.Error.Code != "gate_failed" {
			t.Fatalf("want 409 gate_failed, got %d %s", r.Status, r.Body)
		}
		return m.Error.Blockers
	}

	// Every undecided change is a blocker, one sentence each.
	if r := promote(bid, "production"); r.Status != 409 || r.Code() != "conflict" || !strings.Contains(string(r.Body), "only be promoted to staging") {
		t.Fatalf("qc → production: %d %s", r.Status, r.Body)
	}
	if b := blockers(promote(bid, "staging")); len(b) != 3 || !strings.Contains(b[0], `PG-1 "Change 1" is undecided`) {
		t.Fatalf("blockers: %q", b)
	}
	gate := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/gate", bid), e.admin.Token, nil).JSON(t)
	if gate["ok"] != false || gate["to"] != "staging" || len(gate["blockers"].([]any)) != 3 {
		t.Fatalf("gate: %v", gate)
	}

	// Approving a flagged change needs a note; the evidence is frozen with the decision.
	decide := func(change int64, decision, note string) resp {
		return e.do("POST", fmt.Sprintf("/api/v1/changes/%d/decision", change), e.admin.Token, map[string]string{"decision": decision, "note": note})
	}
	wantError(t, decide(ch[0], "approved", ""), 400, "validation_failed", "note")
	wantError(t, decide(ch[0], "maybe", ""), 400, "validation_failed", "decision")
	r := decide(ch[0], "approved", "Design wants it; we tune it in 1.1")
	if r.Status != 200 {
		t.Fatalf("approve with note: %d %s", r.Status, r.Body)
	}
	dec := r.JSON(t)
	ev := dec["evidence"].(map[string]any)
	if dec["status"] != "approved" || dec["note"] != "Design wants it; we tune it in 1.1" || dec["decided_by"].(float64) != float64(e.admin.ID) ||
		ev["flag"].(map[string]any)["verdict"] != "revert" || ev["votes"].(map[string]any)["revert"].(float64) != 5 {
		t.Fatalf("decision: %s", r.Body)
	}
	if r := decide(ch[0], "reverted", ""); r.Status != 200 { // decisions can change before production
		t.Fatalf("re-decide: %d %s", r.Status, r.Body)
	}
	e.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", ch[1]), e.admin.Token, map[string]string{"decision": "approved", "note": "ok"})
	e.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", ch[2]), e.admin.Token, map[string]string{"decision": "approved"})
	// An approved change with an open critical bug still blocks.
	if b := blockers(promote(bid, "staging")); len(b) != 1 || !strings.Contains(b[0], `PG-2 "Change 2" is approved but has 1 open critical bug`) {
		t.Fatalf("blockers: %q", b)
	}
	e.must(200, "PATCH", fmt.Sprintf("/api/v1/feedback/%d", crash), e.admin.Token, map[string]string{"status": "resolved"})
	if r := promote(bid, "staging"); r.Status != 200 || r.JSON(t)["stage"] != "staging" {
		t.Fatalf("promote to staging: %d %s", r.Status, r.Body)
	}
	if r := promote(bid, "production"); r.Status != 200 || r.JSON(t)["stage"] != "production" {
		t.Fatalf("promote to production: %d %s", r.Status, r.Body)
	}
	pid := int64(e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), e.admin.Token, nil).JSON(t)["product_id"].(float64))
	if p := e.must(200, "GET", fmt.Sprintf("/api/v1/products/%d", pid), e.admin.Token, nil).JSON(t); p["production_build_id"].(float64) != float64(bid) {
		t.Fatalf("product: %v", p)
	}
	// Frozen now.
	if r := decide(ch[2], "reverted", ""); r.Status != 409 || r.Code() != "conflict" {
		t.Fatalf("decision after production: %d %s", r.Status, r.Body)
	}
	if r := promote(bid, "production"); r.Status != 409 {
		t.Fatalf("promote a production build: %d %s", r.Status, r.Body)
	}
	// Nothing to roll back to yet.
	if r := e.do("POST", fmt.Sprintf("/api/v1/products/%d/rollback", pid), e.admin.Token, nil); r.Status != 409 || r.Code() != "conflict" {
		t.Fatalf("rollback of the first production build: %d %s", r.Status, r.Body)
	}

	// A second build of the same product supersedes it, and a rollback brings it back.
	r = e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), e.admin.Token, map[string]any{"version": "2.0"})
	b2 := int64(r.JSON(t)["id"].(float64))
	e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", b2), e.admin.Token, map[string]string{"to": "staging"})
	e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", b2), e.admin.Token, map[string]string{"to": "production"})
	if st := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), e.admin.Token, nil).JSON(t)["stage"]; st != "superseded" {
		t.Fatalf("old production build is %v", st)
	}
	p := e.must(200, "POST", fmt.Sprintf("/api/v1/products/%d/rollback", pid), e.admin.Token, nil).JSON(t)
	if p["production_build_id"].(float64) != float64(bid) {
		t.Fatalf("after rollback: %v", p)
	}
	for id, want := range map[int64]string{bid: "production", b2: "rolled_back"} {
		if st := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", id), e.admin.Token, nil).JSON(t)["stage"]; st != want {
			t.Fatalf("build %d is %v, want %s", id, st, want)
		}
	}

	// Release notes list the decisions, as JSON and Markdown.
	notes := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/release-notes", bid), e.admin.Token, nil).JSON(t)
	if len(notes["approved"].([]any)) != 2 || len(notes["reverted"].([]any)) != 1 || !strings.Contains(notes["markdown"].(string), "- **PG-1** Change 1") {
		t.Fatalf("release notes: %v", notes)
	}
	md := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/release-notes?format=markdown", bid), e.admin.Token, nil)
	if !strings.HasPrefix(md.Header.Get("Content-Type"), "text/markdown") || !strings.Contains(string(md.Body), "## Rolled back before release") {
		t.Fatalf("markdown: %s", md.Body)
	}
	// Every step is in the audit log.
	audit := e.must(200, "GET", fmt.Sprintf("/api/v1/audit?subject_type=product&subject_id=%d", pid), e.admin.Token, nil).Items(t)
	if len(audit) == 0 || audit[0]["action"] != "product.rolled_back" {
		t.Fatalf("audit: %v", audit)
	}
}

// Two builds of one product racing to production: exactly one wins.
func TestConcurrentPromotionsOneWins(t *testing.T) {
	e := newEnv(t)
	pid := e.product()
	var builds []int64
	for i := 0; i < 2; i++ {
		r := e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), e.admin.Token, map[string]any{"version": fmt.Sprintf("race-%d", i)})
		id := int64(r.JSON(t)["id"].(float64))
		e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", id), e.admin.Token, map[string]string{"to": "staging"})
		builds = append(builds, id)
	}
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, id := range builds {
		wg.Add(1)
		go func(i int, id int64) {
			defer wg.Done()
			statuses[i] = e.do("POST", fmt.Sprintf("/api/v1/builds/%d/promote", id), e.admin.Token, map[string]string{"to": "production"}).Status
		}(i, id)
	}
	wg.Wait()
	winners := 0
	var winner int64
	for i, s := range statuses {
		switch s {
		case 200:
			winners++
			winner = builds[i]
		case 409:
		default:
			t.Fatalf("promotion answered %d", s)
		}
	}
	if winners != 1 {
		t.Fatalf("%d promotions won: %v", winners, statuses)
	}
	p := e.must(200, "GET", fmt.Sprintf("/api/v1/products/%d", pid), e.admin.Token, nil).JSON(t)
	if p["production_build_id"].(float64) != float64(winner) {
		t.Fatalf("production is %v, winner %d", p["production_build_id"], winner)
	}
	// The loser can be re-staged against the new production, then promoted.
	loser := builds[0]
	if loser == winner {
		loser = builds[1]
	}
	e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", loser), e.admin.Token, map[string]string{"to": "staging"})
	e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", loser), e.admin.Token, map[string]string{"to": "production"})
}

// Reports are served from a cache between commits: every write shows in
// the very next report, including while other requests read and write.
func TestReportFreshAfterEveryWrite(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	feedbackTotal := func() int {
		return int(e.reportOf(w.bid)["totals"].(map[string]any)["feedback"].(float64))
	}
	for i := 1; i <= 3; i++ {
		e.reportOf(w.bid) // rendered
		e.reportOf(w.bid) // from the cache
		e.bug(w.tester, w.bid, nil, "low", fmt.Sprintf("Bug %d", i))
		if got := feedbackTotal(); got != i {
			t.Fatalf("after bug %d the report counts %d", i, got)
		}
	}
	e.vote(w.tester, w.changes[0], "revert")
	if v := line(t, e.reportOf(w.bid), w.changes[0])["votes"].(map[string]any); v["revert"] != 1.0 {
		t.Fatalf("after a vote: %v", v)
	}
	e.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", w.changes[1]), w.rm.Token, map[string]string{"decision": "reverted"})
	if st := line(t, e.reportOf(w.bid), w.changes[1])["change"].(map[string]any)["status"]; st != "reverted" {
		t.Fatalf("after a decision: %v", st)
	}

	// Racing: each writer reads the report right after its 201, and must
	// find at least as many items as had been acknowledged by then.
	var acked atomic.Int64
	acked.Store(3)
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				r := e.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token,
					map[string]any{"kind": "praise", "title": "Nice"})
				if r.Status != 201 {
					errs <- fmt.Sprintf("file: %d %s", r.Status, r.Body)
					return
				}
				least := acked.Add(1)
				rep := e.do("GET", fmt.Sprintf("/api/v1/builds/%d/report", w.bid), w.po.Token, nil)
				var doc struct {
					Totals struct{ Feedback int64 } `json:"totals"`
				}
				if err := json.Unmarshal(rep.Body, &doc); err != nil || rep.Status != 200 {
					errs <- fmt.Sprintf("report: %d %s", rep.Status, rep.Body)
					return
				}
				if doc.Totals.Feedback < least {
					errs <- fmt.Sprintf("stale report: %d items, %d acknowledged before the read", doc.Totals.Feedback, least)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if got := feedbackTotal(); got != 83 {
		t.Fatalf("final report counts %d items, want 83", got)
	}
}

// The report of a build that does not exist is a 404 in the contract's
// shape, for staff as for anyone.
func TestReportOfMissingBuild(t *testing.T) {
	e := newEnv(t)
	e.world(1)
	r := e.must(404, "GET", "/api/v1/builds/987654/report", e.admin.Token, nil)
	if r.Code() != "not_found" {
		t.Errorf("code %q, want not_found: %s", r.Code(), r.Body)
	}
}
