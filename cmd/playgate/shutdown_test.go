package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// SIGTERM during concurrent submissions: in-flight requests finish, the
// process exits 0, and every acknowledged item is there after a restart.
func TestGracefulShutdownKeepsAcknowledgedWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary twice")
	}
	bin := e2eBuild(t)
	const adminEmail, adminPW = "admin@studio.example", "shutdown-admin-pw"
	env := map[string]string{"PLAYGATE_DATA": t.TempDir(), "PLAYGATE_ADMIN_EMAIL": adminEmail, "PLAYGATE_ADMIN_PASSWORD": adminPW, "PLAYGATE_RATE_LIMITS": "off"}
	srv := e2eStart(t, bin, env)
	admin := srv.login(adminEmail, adminPW)
	pid := id(t, srv.must(201, "POST", "/api/v1/products", admin, map[string]string{"name": "Stop", "slug": "stop"}).obj(t)["id"])
	bid := id(t, srv.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{"version": "1"}).obj(t)["id"])
	token := srv.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]string{"email": "t@example.com"}).obj(t)["token"].(string)
	tester := srv.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": token, "name": "T", "password": "tester-password"}).obj(t)["access_token"].(string)

	var mu sync.Mutex
	acked := map[int64]bool{}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				body, _ := json.Marshal(map[string]any{"kind": "bug", "severity": "low", "title": fmt.Sprintf("g%d item %d", g, i)})
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/builds/%d/feedback", srv.base, bid), bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tester)
				req.Header.Set("Idempotency-Key", fmt.Sprintf("g%d-%d", g, i))
				res, err := client.Do(req)
				if err != nil {
					return // the server stopped listening
				}
				var fb struct{ ID int64 }
				json.NewDecoder(res.Body).Decode(&fb)
				res.Body.Close()
				if res.StatusCode == 201 {
					mu.Lock()
					acked[fb.ID] = true
					mu.Unlock()
				}
			}
		}(g)
	}
	time.Sleep(700 * time.Millisecond)
	srv.stop() // SIGTERM; exit 0 and a clean log
	wg.Wait()
	if len(acked) < 20 {
		t.Fatalf("only %d acknowledged items before the shutdown: the test proves little", len(acked))
	}

	again := e2eStart(t, bin, env)
	defer again.stop()
	admin = again.login(adminEmail, adminPW)
	for fid := range acked {
		again.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), admin, nil)
	}
	rep := again.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), admin, nil).obj(t)
	if n := int(field(rep, "totals", "feedback").(float64)); n < len(acked) {
		t.Fatalf("report counts %d items, %d were acknowledged", n, len(acked))
	}
}
