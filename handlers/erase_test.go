package handlers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEraseTester(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	tt := w.tester
	fid := e.bug(tt, w.bid, &w.changes[0], "critical", "My name is Tess and I crashed")
	up := e.upload(tt.Token, fid, "shot.png", pngBytes(t, 4, 4))
	if up.Status != 201 {
		t.Fatalf("upload: %d %s", up.Status, up.Body)
	}
	aid := id(t, up)
	e.vote(tt, w.changes[0], "revert")
	e.must(201, "POST", fmt.Sprintf("/api/v1/feedback/%d/comments", fid), tt.Token, map[string]string{"body": "Call me on 555-0100"})
	var files []string
	filepath.WalkDir(filepath.Join(e.store.DataDir, "attachments"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("attachment files: %v", files)
	}
	before := line(t, e.reportOf(w.bid), w.changes[0])

	wantError(t, e.do("DELETE", fmt.Sprintf("/api/v1/users/%d", tt.ID), e.admin.Token, nil), 400, "validation_failed", "erase")
	e.checkRoles(t, w, roleCase{method: "DELETE", path: static("/api/v1/users/999999?erase=true"), want: roles(404, 403, 403, 403, 403)})
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/users/%d?erase=true", tt.ID), e.admin.Token, nil)

	// The person is gone: no email or name anywhere, no token, no login.
	for _, path := range []string{"/api/v1/users?limit=200", "/api/v1/audit?limit=200"} {
		if body := string(e.must(200, "GET", path, e.admin.Token, nil).Body); strings.Contains(body, tt.Email) {
			i := strings.Index(body, tt.Email)
			t.Fatalf("%s still shows %s: %s", path, tt.Email, body[max(0, i-300):i+50])
		}
	}
	wantError(t, e.do("GET", "/api/v1/me", tt.Token, nil), 401, "unauthorized", "")
	wantError(t, e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": tt.Email, "password": tt.Password}), 401, "unauthorized", "")
	fb := e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), e.admin.Token, nil).JSON(t)
	if strings.Contains(string(e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), e.admin.Token, nil).Body), "Tess") ||
		fb["tester_name"] != "Erased user" || len(fb["attachments"].([]any)) != 0 || fb["comments"].([]any)[0].(map[string]any)["body"] == "Call me on 555-0100" {
		t.Fatalf("feedback after erasure: %v", fb)
	}
	wantError(t, e.do("GET", fmt.Sprintf("/api/v1/attachments/%d", aid), e.admin.Token, nil), 404, "not_found", "")
	if _, err := os.Stat(files[0]); !os.IsNotExist(err) {
		t.Fatalf("attachment file still there: %v", err)
	}
	// Reports stay true: the vote and the open critical bug still count.
	after := line(t, e.reportOf(w.bid), w.changes[0])
	if fmt.Sprint(after["votes"], after["open_bugs"]) != fmt.Sprint(before["votes"], before["open_bugs"]) {
		t.Fatalf("report moved: %v → %v", before, after)
	}
	if acts := e.auditActions(fmt.Sprintf("&subject_type=user&subject_id=%d", tt.ID)); !contains(acts, "user.erased") {
		t.Fatalf("audit: %v", acts)
	}
	wantError(t, e.do("DELETE", fmt.Sprintf("/api/v1/users/%d?erase=true", e.admin.ID), e.admin.Token, nil), 409, "conflict", "")
}

func TestRetentionPrunesOldBuildsAttachments(t *testing.T) {
	e := newEnv(t)
	bid, _ := e.build(0)
	tt := e.tester(bid)
	fid := e.bug(tt, bid, nil, "low", "Old build bug")
	aid := id(t, e.upload(tt.Token, fid, "a.png", pngBytes(t, 2, 2)))
	pid := int64(e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), e.admin.Token, nil).JSON(t)["product_id"].(float64))
	for _, to := range []string{"staging", "production"} {
		e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), e.admin.Token, map[string]string{"to": to})
	}
	ctx := context.Background()
	if n, err := e.store.PruneAttachments(ctx, 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned a production build's attachments: %d %v", n, err)
	}
	b2 := id(t, e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), e.admin.Token, map[string]any{"version": "next"}))
	for _, to := range []string{"staging", "production"} {
		e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", b2), e.admin.Token, map[string]string{"to": to})
	}
	if n, err := e.store.PruneAttachments(ctx, 24*time.Hour); err != nil || n != 0 {
		t.Fatalf("pruned before the retention ended: %d %v", n, err)
	}
	e.setClock(time.Now().Add(25 * time.Hour))
	e.login(e.admin)
	if n, err := e.store.PruneAttachments(ctx, 24*time.Hour); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	wantError(t, e.do("GET", fmt.Sprintf("/api/v1/attachments/%d", aid), e.admin.Token, nil), 404, "not_found", "")
	if fb := e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), e.admin.Token, nil).JSON(t); fb["attachment_count"].(float64) != 0 || fb["title"] != "Old build bug" {
		t.Fatalf("feedback after pruning: %v", fb)
	}
}
