package main_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
)

// Two real server processes on one PostgreSQL behave as one service.
func TestReplicasOnPostgres(t *testing.T) {
	base := os.Getenv("PLAYGATE_TEST_POSTGRES")
	if base == "" {
		t.Skip("PLAYGATE_TEST_POSTGRES is not set: the two-replica test needs a PostgreSQL server")
	}
	bin := e2eBuild(t)
	db := e2ePostgresSchema(t, base)
	const adminEmail, adminPW = "admin@studio.example", "replica-admin-pw"
	env := func() map[string]string {
		return map[string]string{"PLAYGATE_DB": db, "PLAYGATE_DATA": t.TempDir(), "PLAYGATE_JWT_SECRET": "shared-secret-of-the-replicas-0123456789",
			"PLAYGATE_ADMIN_EMAIL": adminEmail, "PLAYGATE_ADMIN_PASSWORD": adminPW, "PLAYGATE_RATE_LIMITS": "off"}
	}
	r1 := e2eStart(t, bin, env())
	defer r1.stop()
	r2 := e2eStart(t, bin, env())
	defer r2.stop()

	// A token from one replica works on the other.
	admin := r1.login(adminEmail, adminPW)
	r2.must(200, "GET", "/api/v1/me", admin, nil)
	pid := id(t, r1.must(201, "POST", "/api/v1/products", admin, map[string]string{"name": "Twin", "slug": "twin"}).obj(t)["id"])
	bid := id(t, r2.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{"version": "1.0"}).obj(t)["id"])
	change := id(t, r1.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin, map[string]string{"key": "T-1", "title": "Twin jump"}).obj(t)["id"])
	token := r1.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]string{"email": "twin@example.com"}).obj(t)["token"].(string)
	tester := r2.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": token, "name": "Twin", "password": "twin-password"}).obj(t)["access_token"].(string)

	// An event stream on one replica receives what happens through the other.
	events := r1.openEvents(admin, bid)
	defer events.cancel()
	r2.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", change), tester, map[string]string{"vote": "revert"})
	events.waitFor(t, "vote")
	// ... and the vote shows in the other replica's report at once.
	rep := r1.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), admin, nil).obj(t)
	if v := field(rep, "changes").([]any)[0].(map[string]any)["votes"].(map[string]any); v["revert"].(float64) != 1 {
		t.Fatalf("votes on replica 1: %v", v)
	}

	// Testers file bugs at once through both replicas. Each replica groups
	// its bug reports into shared transactions, and two such batches on one
	// build may deadlock (one then runs again write by write): every report
	// is answered 201, stored once and counted once.
	const filers, each = 6, 8
	var filerTokens []string
	for i := 0; i < filers; i++ {
		invite := r1.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]string{"email": fmt.Sprintf("filer%d@example.com", i)}).obj(t)["token"].(string)
		filerTokens = append(filerTokens, r2.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": invite, "name": fmt.Sprintf("Filer %d", i),
			"password": "filer-password"}).obj(t)["access_token"].(string))
	}
	var (
		filed sync.WaitGroup
		mu    sync.Mutex
		bad   []string
	)
	for i, tok := range filerTokens {
		for j := 0; j < each; j++ {
			filed.Add(1)
			go func(r *e2eServer, tok string, n int) {
				defer filed.Done()
				body := fmt.Sprintf(`{"kind":"bug","severity":"high","title":"Twin crash %d","change_id":%d}`, n, change)
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/builds/%d/feedback", r.base, bid), bytes.NewReader([]byte(body)))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					bad = append(bad, err.Error())
					return
				}
				res.Body.Close()
				if res.StatusCode != 201 {
					bad = append(bad, fmt.Sprintf("report %d: status %d", n, res.StatusCode))
				}
			}([]*e2eServer{r1, r2}[(i+j)%2], tok, i*each+j)
		}
	}
	filed.Wait()
	if len(bad) > 0 {
		t.Fatalf("bug reports through both replicas: %v", bad)
	}
	rep = r2.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), admin, nil).obj(t)
	if n, high := field(rep, "totals", "feedback"), field(rep, "totals", "bugs", "high"); n != float64(filers*each) || high != float64(filers*each) {
		t.Fatalf("report after %d reports: feedback %v, high bugs %v", filers*each, n, high)
	}
	if ob := field(rep, "changes").([]any)[0].(map[string]any)["open_bugs"].(map[string]any); ob["high"] != float64(filers*each) {
		t.Fatalf("open bugs of the change after %d reports: %v", filers*each, ob)
	}
	list := r1.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?limit=100", bid), admin, nil).obj(t)
	if items := list["items"].([]any); len(items) != filers*each {
		t.Fatalf("feedback list: %d items, want %d", len(items), filers*each)
	}

	// The same testers vote at once through both replicas, on two changes,
	// each first revert, then keep (the last vote counts): every vote is
	// answered 200 and each tester counts once, as keep.
	change2 := id(t, r2.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin, map[string]string{"key": "T-2", "title": "Twin dash"}).obj(t)["id"])
	var voted sync.WaitGroup
	for i, tok := range filerTokens {
		for k, c := range []int64{change, change2} {
			voted.Add(1)
			go func(tok string, c int64, first, second *e2eServer) {
				defer voted.Done()
				for _, step := range []struct {
					r    *e2eServer
					vote string
				}{{first, "revert"}, {second, "keep"}} {
					body := fmt.Sprintf(`{"vote":%q}`, step.vote)
					req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/v1/changes/%d/vote", step.r.base, c), bytes.NewReader([]byte(body)))
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					res, err := http.DefaultClient.Do(req)
					mu.Lock()
					if err != nil {
						bad = append(bad, err.Error())
					} else {
						res.Body.Close()
						if res.StatusCode != 200 {
							bad = append(bad, fmt.Sprintf("vote %s on %d: status %d", step.vote, c, res.StatusCode))
						}
					}
					mu.Unlock()
				}
			}(tok, c, []*e2eServer{r1, r2}[(i+k)%2], []*e2eServer{r2, r1}[(i+k)%2])
		}
	}
	voted.Wait()
	if len(bad) > 0 {
		t.Fatalf("votes through both replicas: %v", bad)
	}
	rep = r1.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), admin, nil).obj(t)
	for _, c := range field(rep, "changes").([]any) {
		c := c.(map[string]any)
		keep, revert := c["votes"].(map[string]any)["keep"], c["votes"].(map[string]any)["revert"]
		cid := c["change"].(map[string]any)["id"]
		wantRevert := map[bool]float64{true: 1, false: 0}[cid == float64(change)] // the first tester's
		if keep != float64(filers) || revert != wantRevert {
			t.Fatalf("votes of change %v after %d testers voted keep last: keep %v, revert %v (want %v)", cid, filers, keep, revert, wantRevert)
		}
	}

	// Login throttling counts failures across both replicas.
	for i := 0; i < 5; i++ {
		r := []*e2eServer{r1, r2}[i%2]
		if got := r.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": "wrong-password"}); got.Status != 401 {
			t.Fatalf("failure %d: %d", i, got.Status)
		}
	}
	for _, r := range []*e2eServer{r1, r2} {
		if got := r.do("POST", "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPW}); got.Status != 429 || got.Header.Get("Retry-After") == "" {
			t.Fatalf("after 5 failures across replicas: %d %s", got.Status, got.Body)
		}
	}

	// Two promotions of one product's builds racing through both replicas: one wins.
	r1.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", change), admin, map[string]string{"decision": "reverted"})
	r2.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", change2), admin, map[string]string{"decision": "approved"})
	var builds []int64
	for i, r := range []*e2eServer{r1, r2} {
		b := bid
		if i == 1 {
			b = id(t, r.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{"version": "1.1"}).obj(t)["id"])
		}
		r.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", b), admin, map[string]string{"to": "staging"})
		builds = append(builds, b)
	}
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, r := range []*e2eServer{r1, r2} {
		wg.Add(1)
		go func(i int, r *e2eServer) {
			defer wg.Done()
			req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/builds/%d/promote", r.base, builds[i]), bytes.NewReader([]byte(`{"to":"production"}`)))
			req.Header.Set("Authorization", "Bearer "+admin)
			if res, err := http.DefaultClient.Do(req); err == nil {
				statuses[i] = res.StatusCode
				res.Body.Close()
			}
		}(i, r)
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 200) {
		t.Fatalf("racing promotions answered %v: exactly one must win", statuses)
	}
}
