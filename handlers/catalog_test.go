package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestCreateProduct(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	e.checkRoles(t, w, roleCase{method: "POST", path: static("/api/v1/products"),
		body: func(who string) any {
			return map[string]string{"name": "Game of " + who, "slug": strings.ReplaceAll("game-of-"+who, "_", "-")}
		},
		want: roles(201, 201, 403, 403, 403)})

	r := e.must(201, "POST", "/api/v1/products", w.rm.Token, map[string]string{"name": " Star Drifter ", "slug": "star-drifter"})
	m := r.JSON(t)
	if m["name"] != "Star Drifter" || m["slug"] != "star-drifter" || m["production_build_id"] != nil || m["id"] == nil {
		t.Errorf("product: %s", r.Body)
	}
	if _, ok := m["production_build_id"]; !ok {
		t.Errorf("product lacks production_build_id: %s", r.Body)
	}
	wantError(t, e.do("POST", "/api/v1/products", e.admin.Token, map[string]string{"name": "Again", "slug": "star-drifter"}), 409, "conflict", "")

	e.checkValidation(t, "POST", "/api/v1/products", e.admin.Token, []validationCase{
		{"no name", map[string]string{"slug": "ok-slug"}, "name"},
		{"long name", map[string]string{"name": strings.Repeat("x", 101), "slug": "ok-slug"}, "name"},
		{"no slug", map[string]string{"name": "Game"}, "slug"},
		{"upper-case slug", map[string]string{"name": "Game", "slug": "Star"}, "slug"},
		{"slug with a space", map[string]string{"name": "Game", "slug": "star drifter"}, "slug"},
		{"slug starting with a dash", map[string]string{"name": "Game", "slug": "-star"}, "slug"},
		{"slug of 64 characters", map[string]string{"name": "Game", "slug": strings.Repeat("s", 64)}, "slug"},
	})
	e.checkBodyRules(t, "POST", "/api/v1/products", e.admin.Token)
	if !contains(e.auditActions("&subject_type=product"), "product.created") {
		t.Error("no product.created event")
	}
}

func TestListProducts(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	e.checkRoles(t, w, roleCase{method: "GET", path: static("/api/v1/products"), want: roles(200, 200, 200, 403, 403)})
	r := e.must(200, "GET", "/api/v1/products", w.po.Token, nil)
	if n := len(r.Items(t)); n != 2 {
		t.Errorf("%d products, want 2", n)
	}
	if nextCursor(t, r) != "" {
		t.Errorf("next_cursor on the last page: %s", r.Body)
	}
	r = e.must(200, "GET", "/api/v1/products?limit=1", w.po.Token, nil)
	if len(r.Items(t)) != 1 || nextCursor(t, r) == "" {
		t.Errorf("limit=1: %s", r.Body)
	}
}

func TestCreateBuild(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	pid := e.product()
	path := fmt.Sprintf("/api/v1/products/%d/builds", pid)
	e.checkRoles(t, w, roleCase{method: "POST", path: static(path),
		body: func(who string) any { return map[string]any{"version": "0.1-" + who} },
		want: roles(201, 201, 403, 403, 403)})

	closes := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	r := e.must(201, "POST", path, w.rm.Token, map[string]any{
		"version": "2.0.0", "notes": "Spring update",
		"access":    map[string]string{"url": "https://dl.example.com/2.0.zip", "server": "qc:7777", "key": "K-1", "instructions": "Unzip and run"},
		"closes_at": closes.Format(time.RFC3339),
		"policy":    map[string]any{"min_votes": 8},
	})
	m := r.JSON(t)
	if m["product_id"] != float64(pid) || m["version"] != "2.0.0" || m["notes"] != "Spring update" || m["stage"] != "qc" || m["created_at"] == nil {
		t.Errorf("build: %s", r.Body)
	}
	if acc, _ := m["access"].(map[string]any); acc["url"] != "https://dl.example.com/2.0.zip" || acc["server"] != "qc:7777" || acc["key"] != "K-1" || acc["instructions"] != "Unzip and run" {
		t.Errorf("access: %v", m["access"])
	}
	if got, _ := time.Parse(time.RFC3339, fmt.Sprint(m["closes_at"])); !got.Equal(closes) {
		t.Errorf("closes_at %v, want %v", m["closes_at"], closes)
	}
	// Policy fields not sent keep the contract's defaults.
	if p, _ := m["policy"].(map[string]any); p["min_votes"] != float64(8) || p["revert_threshold"] != 0.3 || p["confidence"] != 0.95 {
		t.Errorf("policy: %v", m["policy"])
	}
	// Defaults when only the version is sent.
	r = e.must(201, "POST", path, e.admin.Token, map[string]any{"version": "2.0.1"})
	if m := r.JSON(t); m["closes_at"] != nil || m["policy"].(map[string]any)["min_votes"] != float64(5) {
		t.Errorf("defaults: %s", r.Body)
	}

	wantError(t, e.do("POST", path, e.admin.Token, map[string]any{"version": "2.0.0"}), 409, "conflict", "")
	wantError(t, e.do("POST", "/api/v1/products/999999/builds", e.admin.Token, map[string]any{"version": "1"}), 404, "not_found", "")

	e.checkValidation(t, "POST", path, e.admin.Token, []validationCase{
		{"no version", map[string]any{"notes": "x"}, "version"},
		{"blank version", map[string]any{"version": "  "}, "version"},
		{"long version", map[string]any{"version": strings.Repeat("9", 65)}, "version"},
		{"long notes", map[string]any{"version": "3", "notes": strings.Repeat("n", 10001)}, "notes"},
		{"access url not http", map[string]any{"version": "3", "access": map[string]string{"url": "javascript:alert(1)"}}, "access.url"},
		{"closes_at not a time", map[string]any{"version": "3", "closes_at": "tomorrow"}, "closes_at"},
		{"closes_at a number", map[string]any{"version": "3", "closes_at": 12}, "closes_at"},
		{"min_votes 0", map[string]any{"version": "3", "policy": map[string]any{"min_votes": 0}}, "policy.min_votes"},
		{"threshold 1.5", map[string]any{"version": "3", "policy": map[string]any{"revert_threshold": 1.5}}, "policy.revert_threshold"},
		{"confidence 0.1", map[string]any{"version": "3", "policy": map[string]any{"confidence": 0.1}}, "policy.confidence"},
		{"version a number", map[string]any{"version": 3}, "version"},
	})
	wantError(t, e.do("POST", path, e.admin.Token, map[string]any{"version": "3", "stage": "production"}), 400, "invalid_json", "")
	wantError(t, e.do("POST", path, e.admin.Token, map[string]any{"version": "3", "access": map[string]any{"password": "x"}}), 400, "invalid_json", "")
	e.checkBodyRules(t, "POST", path, e.admin.Token)
	if n := e.count("builds", "product_id = ?", pid); n != 2+2 {
		t.Errorf("%d builds stored, want 4 (2 by the role table, 2 here)", n)
	}
}

func TestListBuilds(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	e.checkRoles(t, w, roleCase{method: "GET", path: static("/api/v1/builds"), want: roles(200, 200, 200, 200, 200)})

	for who, want := range map[string][]int64{
		asAdmin: {w.otherBid, w.bid}, asProductOwner: {w.otherBid, w.bid}, asTester: {w.bid}, asOtherTester: {w.otherBid},
	} {
		got := ids(t, e.must(200, "GET", "/api/v1/builds", w.token(e, who), nil))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s sees builds %v, want %v", who, got, want)
		}
	}
	r := e.must(200, "GET", "/api/v1/builds?limit=1", e.admin.Token, nil)
	next := nextCursor(t, r)
	r2 := e.must(200, "GET", "/api/v1/builds?limit=1&cursor="+next, e.admin.Token, nil)
	if fmt.Sprint(ids(t, r), ids(t, r2)) != fmt.Sprint([]int64{w.otherBid}, []int64{w.bid}) || nextCursor(t, r2) != "" {
		t.Errorf("paging builds: %s then %s", r.Body, r2.Body)
	}
	wantError(t, e.do("GET", "/api/v1/builds?cursor=not-a-cursor", e.admin.Token, nil), 400, "validation_failed", "cursor")
}

func TestGetBuild(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	path := fmt.Sprintf("/api/v1/builds/%d", w.bid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 200, 404)})

	for _, who := range []string{asTester, asProductOwner} {
		m := e.must(200, "GET", path, w.token(e, who), nil).JSON(t)
		if acc, _ := m["access"].(map[string]any); acc["url"] != "https://dl.example.com/qc.zip" || acc["key"] != "QC-KEY-1" {
			t.Errorf("%s does not see the access details: %v", who, m)
		}
		if m["id"] != float64(w.bid) || m["stage"] != "qc" {
			t.Errorf("build: %v", m)
		}
	}
	// The other tester learns nothing, not even that the build exists:
	// the answer is the same as for a build that does not.
	hidden := e.do("GET", path, w.other.Token, nil)
	missing := e.do("GET", "/api/v1/builds/999999", w.other.Token, nil)
	if hidden.Status != 404 || string(hidden.Body) != string(missing.Body) {
		t.Errorf("hidden build %d %s, missing build %d %s", hidden.Status, hidden.Body, missing.Status, missing.Body)
	}
	wantError(t, e.do("GET", "/api/v1/builds/999999", e.admin.Token, nil), 404, "not_found", "")
	wantError(t, e.do("GET", "/api/v1/builds/x", e.admin.Token, nil), 404, "not_found", "")
	wantError(t, e.do("GET", "/api/v1/builds/-1", e.admin.Token, nil), 404, "not_found", "")
}

func TestCreateChange(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	path := fmt.Sprintf("/api/v1/builds/%d/changes", w.bid)
	e.checkRoles(t, w, roleCase{method: "POST", path: static(path),
		body: func(who string) any { return map[string]string{"key": "K-" + who, "title": "Change by " + who} },
		want: roles(201, 201, 403, 403, 403)})

	r := e.must(201, "POST", path, w.rm.Token, map[string]string{"key": "PG-142", "title": " Faster matchmaking ", "description": "Queue in parallel", "area": "network"})
	m := r.JSON(t)
	if m["build_id"] != float64(w.bid) || m["key"] != "PG-142" || m["title"] != "Faster matchmaking" || m["description"] != "Queue in parallel" ||
		m["area"] != "network" || m["status"] != "pending" || m["id"] == nil {
		t.Errorf("change: %s", r.Body)
	}
	wantError(t, e.do("POST", path, e.admin.Token, map[string]string{"key": "PG-142", "title": "Again"}), 409, "conflict", "")
	// The same key in another build is fine.
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", w.otherBid), e.admin.Token, map[string]string{"key": "PG-142", "title": "Same key"})
	wantError(t, e.do("POST", "/api/v1/builds/999999/changes", e.admin.Token, map[string]string{"key": "A", "title": "B"}), 404, "not_found", "")

	e.checkValidation(t, "POST", path, e.admin.Token, []validationCase{
		{"no key", map[string]string{"title": "T"}, "key"},
		{"key with a space", map[string]string{"key": "PG 1", "title": "T"}, "key"},
		{"key of 65 characters", map[string]string{"key": strings.Repeat("k", 65), "title": "T"}, "key"},
		{"no title", map[string]string{"key": "PG-9"}, "title"},
		{"long title", map[string]string{"key": "PG-9", "title": strings.Repeat("t", 201)}, "title"},
		{"long description", map[string]string{"key": "PG-9", "title": "T", "description": strings.Repeat("d", 10001)}, "description"},
		{"long area", map[string]string{"key": "PG-9", "title": "T", "area": strings.Repeat("a", 101)}, "area"},
	})
	wantError(t, e.do("POST", path, e.admin.Token, map[string]string{"key": "PG-10", "title": "T", "status": "approved"}), 400, "invalid_json", "")
	e.checkBodyRules(t, "POST", path, e.admin.Token)
	if n := e.count("changes", "build_id = ?", w.bid); n != 3 {
		t.Errorf("%d changes stored, want 3", n)
	}
}

func TestListChanges(t *testing.T) {
	e := newEnv(t)
	w := e.world(3)
	path := fmt.Sprintf("/api/v1/builds/%d/changes", w.bid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 200, 404)})

	e.vote(w.tester, w.changes[1], "revert")
	items := e.must(200, "GET", path, w.tester.Token, nil).Items(t)
	if len(items) != 3 {
		t.Fatalf("%d changes", len(items))
	}
	for i, it := range items {
		if it["id"] != float64(w.changes[i]) || it["build_id"] != float64(w.bid) || it["status"] != "pending" {
			t.Errorf("change %d: %v", i, it)
		}
	}
	if items[0]["my_vote"] != nil || items[1]["my_vote"] != "revert" {
		t.Errorf("my_vote: %v / %v", items[0]["my_vote"], items[1]["my_vote"])
	}
	// Staff see the list without anyone's vote.
	for _, it := range e.must(200, "GET", path, e.admin.Token, nil).Items(t) {
		if _, ok := it["my_vote"]; ok {
			t.Errorf("staff list carries my_vote: %v", it)
		}
	}
	wantError(t, e.do("GET", "/api/v1/builds/999999/changes", e.admin.Token, nil), 404, "not_found", "")
}
