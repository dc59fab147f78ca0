package handlers_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"playgate/models"
)

func TestCreateUser(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)

	newUser := func(who string) any {
		return map[string]string{"email": "new-" + who + "@example.com", "name": "New " + who, "role": "tester", "password": "a-long-password"}
	}
	e.checkRoles(t, w, roleCase{method: "POST", path: static("/api/v1/users"), body: newUser,
		want: roles(201, 403, 403, 403, 403)})

	r := e.must(201, "POST", "/api/v1/users", e.admin.Token, map[string]string{
		"email": "Quality.Lead@Example.com", "name": "  Quality Lead ", "role": "product_owner", "password": "correct horse battery"})
	m := r.JSON(t)
	if m["email"] != "quality.lead@example.com" || m["name"] != "Quality Lead" || m["role"] != "product_owner" || m["disabled"] != false || m["id"] == nil {
		t.Errorf("created user: %s", r.Body)
	}
	if strings.Contains(string(r.Body), "correct horse") || strings.Contains(string(r.Body), "hash") {
		t.Errorf("the answer shows the password: %s", r.Body)
	}
	// Stored only as a slow salted hash.
	var hash string
	e.rawDB().Table("users").Select("password_hash").Where("email = ?", "quality.lead@example.com").Scan(&hash)
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "correct horse") {
		t.Errorf("stored password: %q", hash)
	}
	// The new account can sign in.
	e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "quality.lead@example.com", "password": "correct horse battery"})

	// The same email again, in any case: 409.
	wantError(t, e.do("POST", "/api/v1/users", e.admin.Token, map[string]string{
		"email": "QUALITY.lead@example.com", "name": "Twin", "role": "tester", "password": "a-long-password"}), 409, "conflict", "")
	if n := e.count("users", "email = ?", "quality.lead@example.com"); n != 1 {
		t.Errorf("%d users with the email", n)
	}

	ok := map[string]any{"email": "v@example.com", "name": "V", "role": "tester", "password": "a-long-password"}
	with := func(k string, v any) map[string]any {
		out := map[string]any{}
		for kk, vv := range ok {
			out[kk] = vv
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	e.checkValidation(t, "POST", "/api/v1/users", e.admin.Token, []validationCase{
		{"no email", with("email", nil), "email"},
		{"not an email", with("email", "not-an-email"), "email"},
		{"display-name address", with("email", "V <v@example.com>"), "email"},
		{"no name", with("name", nil), "name"},
		{"blank name", with("name", "   "), "name"},
		{"long name", with("name", strings.Repeat("n", 101)), "name"},
		{"no role", with("role", nil), "role"},
		{"unknown role", with("role", "superuser"), "role"},
		{"no password", with("password", nil), "password"},
		{"9-character password", with("password", "123456789"), "password"},
		{"huge password", with("password", strings.Repeat("p", 1001)), "password"},
		{"name of the wrong type", with("name", 12), "name"},
	})
	if n := e.count("users", "email = ?", "v@example.com"); n != 0 {
		t.Errorf("a refused user was stored")
	}
	// A read-only field cannot be set.
	wantError(t, e.do("POST", "/api/v1/users", e.admin.Token, with("id", 999)), 400, "invalid_json", "")
	wantError(t, e.do("POST", "/api/v1/users", e.admin.Token, with("disabled", true)), 400, "invalid_json", "")
	e.checkBodyRules(t, "POST", "/api/v1/users", e.admin.Token)

	if !contains(e.auditActions("&subject_type=user"), "user.created") {
		t.Error("no user.created audit event")
	}
}

func TestListUsers(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	e.checkRoles(t, w, roleCase{method: "GET", path: static("/api/v1/users"), want: roles(200, 403, 403, 403, 403)})

	r := e.must(200, "GET", "/api/v1/users", e.admin.Token, nil)
	items := r.Items(t)
	// admin, rm, po, three testers, disabled admin.
	if len(items) != 7 {
		t.Fatalf("%d users listed, want 7: %s", len(items), r.Body)
	}
	if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "password") {
		t.Errorf("the list shows password hashes: %s", r.Body)
	}
	for _, it := range items {
		if it["id"] == float64(w.disabledAdm.ID) && it["disabled"] != true {
			t.Errorf("disabled user listed as enabled: %v", it)
		}
	}
	// Pages of 3 cover everyone once, newest first.
	var got []int64
	cursor := ""
	for page := 0; page < 5; page++ {
		q := "/api/v1/users?limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := e.must(200, "GET", q, e.admin.Token, nil)
		got = append(got, ids(t, r)...)
		if cursor = nextCursor(t, r); cursor == "" {
			break
		}
	}
	want := ids(t, e.must(200, "GET", "/api/v1/users", e.admin.Token, nil))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("paged %v, whole list %v", got, want)
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x"} {
		wantError(t, e.do("GET", "/api/v1/users?"+q, e.admin.Token, nil), 400, "validation_failed", "limit")
	}
	wantError(t, e.do("GET", "/api/v1/users?cursor=bogus", e.admin.Token, nil), 400, "validation_failed", "cursor")
}

func TestUpdateUser(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	target := e.user(models.RoleTester)
	path := fmt.Sprintf("/api/v1/users/%d", target.ID)

	e.checkRoles(t, w, roleCase{method: "PATCH", path: static(path), body: func(who string) any { return map[string]string{"name": "Renamed by " + who} },
		want: roles(200, 403, 403, 403, 403)})

	r := e.must(200, "PATCH", path, e.admin.Token, map[string]any{"name": "Tess Ter", "role": "product_owner"})
	if m := r.JSON(t); m["name"] != "Tess Ter" || m["role"] != "product_owner" || m["email"] != target.Email {
		t.Errorf("PATCH answer: %s", r.Body)
	}
	// Absent fields keep their values.
	r = e.must(200, "PATCH", path, e.admin.Token, map[string]any{})
	if m := r.JSON(t); m["name"] != "Tess Ter" || m["role"] != "product_owner" || m["disabled"] != false {
		t.Errorf("empty PATCH changed the user: %s", r.Body)
	}
	// The new role applies at once, with the token issued under the old one.
	e.must(200, "GET", "/api/v1/products", target.Token, nil)
	e.must(200, "PATCH", path, e.admin.Token, map[string]any{"role": "tester"})
	wantError(t, e.do("GET", "/api/v1/products", target.Token, nil), 403, "forbidden", "")

	e.checkValidation(t, "PATCH", path, e.admin.Token, []validationCase{
		{"blank name", map[string]any{"name": " "}, "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{"unknown role", map[string]any{"role": "owner"}, "role"},
		{"disabled not a bool", map[string]any{"disabled": "yes"}, "disabled"},
	})
	// Email and password are not fields of this call.
	wantError(t, e.do("PATCH", path, e.admin.Token, map[string]any{"email": "x@example.com"}), 400, "invalid_json", "")
	wantError(t, e.do("PATCH", path, e.admin.Token, map[string]any{"password_hash": "x"}), 400, "invalid_json", "")
	e.checkBodyRules(t, "PATCH", path, e.admin.Token)

	wantError(t, e.do("PATCH", "/api/v1/users/999999", e.admin.Token, map[string]any{"name": "Ghost"}), 404, "not_found", "")
	wantError(t, e.do("PATCH", "/api/v1/users/abc", e.admin.Token, map[string]any{"name": "Ghost"}), 404, "not_found", "")
	// An admin cannot lock themselves out.
	self := fmt.Sprintf("/api/v1/users/%d", e.admin.ID)
	wantError(t, e.do("PATCH", self, e.admin.Token, map[string]any{"disabled": true}), 409, "conflict", "")
	wantError(t, e.do("PATCH", self, e.admin.Token, map[string]any{"role": "tester"}), 409, "conflict", "")
	e.must(200, "GET", "/api/v1/users", e.admin.Token, nil)

	if !contains(e.auditActions(fmt.Sprintf("&subject_type=user&subject_id=%d", target.ID)), "user.updated") {
		t.Error("no user.updated audit event")
	}
}

func TestAudit(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	e.checkRoles(t, w, roleCase{method: "GET", path: static("/api/v1/audit"), want: roles(200, 200, 403, 403, 403)})

	// One failed login, by an unknown email and a known one.
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": w.rm.Email, "password": "wrong-password"})

	r := e.must(200, "GET", "/api/v1/audit?limit=200", w.rm.Token, nil)
	var failed []map[string]any
	seen := map[string]bool{}
	for _, it := range r.Items(t) {
		seen[it["action"].(string)] = true
		for _, k := range []string{"id", "at", "actor_id", "action", "subject_type", "subject_id", "detail"} {
			if _, ok := it[k]; !ok {
				t.Errorf("event lacks %q: %v", k, it)
			}
		}
		if it["action"] == "auth.login_failed" {
			failed = append(failed, it)
		}
	}
	for _, a := range []string{"user.created", "user.updated", "product.created", "build.created", "change.created", "invite.created", "invite.redeemed", "auth.login_failed"} {
		if !seen[a] {
			t.Errorf("no %s event in the audit log", a)
		}
	}
	if len(failed) != 2 {
		t.Fatalf("%d auth.login_failed events, want 2", len(failed))
	}
	// Newest first: the known account's failure names the user.
	if failed[0]["subject_id"] != float64(w.rm.ID) || failed[0]["actor_id"] != nil {
		t.Errorf("login failure event: %v", failed[0])
	}
	if d, _ := failed[0]["detail"].(map[string]any); d["email"] != w.rm.Email {
		t.Errorf("login failure detail is not a JSON object with the email: %v", failed[0]["detail"])
	}
	if strings.Contains(string(r.Body), "wrong-password") {
		t.Error("the audit log records a tried password")
	}

	// Filters.
	r = e.must(200, "GET", fmt.Sprintf("/api/v1/audit?subject_type=build&subject_id=%d", w.bid), e.admin.Token, nil)
	items := r.Items(t)
	if len(items) == 0 {
		t.Fatal("no events for the build")
	}
	for _, it := range items {
		if it["subject_type"] != "build" || it["subject_id"] != float64(w.bid) {
			t.Errorf("filter by subject leaked %v", it)
		}
	}
	r = e.must(200, "GET", fmt.Sprintf("/api/v1/audit?actor_id=%d", w.tester.ID), e.admin.Token, nil)
	if len(r.Items(t)) == 0 {
		t.Error("no events by the tester (redeem)")
	}
	for _, it := range r.Items(t) {
		if it["actor_id"] != float64(w.tester.ID) {
			t.Errorf("filter by actor leaked %v", it)
		}
	}
	wantError(t, e.do("GET", "/api/v1/audit?actor_id=x", e.admin.Token, nil), 400, "validation_failed", "actor_id")
	wantError(t, e.do("GET", "/api/v1/audit?subject_id=-1", e.admin.Token, nil), 400, "validation_failed", "subject_id")
	wantError(t, e.do("GET", "/api/v1/audit?limit=500", e.admin.Token, nil), 400, "validation_failed", "limit")

	// The log is append-only: no route changes it.
	for _, m := range []string{"POST", "DELETE", "PATCH", "PUT"} {
		if r := e.do(m, "/api/v1/audit", e.admin.Token, map[string]any{}); r.Status < 400 {
			t.Errorf("%s /api/v1/audit: %d", m, r.Status)
		}
	}
}

// An actor's events are the same whether the log is read whole or by
// actor: the events of their new feedback items (found through the
// feedback, not the log's index by actor) and the rest, merged newest
// first, page by page, with the subject filters.
func TestAuditByActor(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	var mine []int64
	for i := range 3 {
		body := map[string]any{"kind": "bug", "severity": "low", "title": fmt.Sprintf("Bug %d", i), "change_id": w.changes[0]}
		mine = append(mine, id(t, e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, body)))
		if i == 1 {
			e.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", w.changes[1]), w.tester.Token, map[string]string{"vote": "keep"})
		}
	}
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.otherBid), w.other.Token, map[string]any{"kind": "praise", "title": "Nice"})

	// What the whole log says the tester did, newest first.
	var all []map[string]any
	for cursor := ""; ; {
		r := e.must(200, "GET", "/api/v1/audit?limit=200&cursor="+cursor, e.admin.Token, nil)
		all = append(all, r.Items(t)...)
		next, _ := r.JSON(t)["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	want := func(keep func(map[string]any) bool) []float64 {
		var ids []float64
		for _, it := range all {
			if it["actor_id"] == float64(w.tester.ID) && keep(it) {
				ids = append(ids, it["id"].(float64))
			}
		}
		return ids
	}
	got := func(query string, limit int) []float64 {
		var ids []float64
		for cursor := ""; ; {
			r := e.must(200, "GET", fmt.Sprintf("/api/v1/audit?actor_id=%d&limit=%d%s&cursor=%s", w.tester.ID, limit, query, cursor), e.admin.Token, nil)
			items := r.Items(t)
			if len(items) > limit {
				t.Fatalf("%s: %d items on a page of %d", query, len(items), limit)
			}
			for _, it := range items {
				ids = append(ids, it["id"].(float64))
			}
			next, _ := r.JSON(t)["next_cursor"].(string)
			if next == "" {
				return ids
			}
			cursor = next
		}
	}
	everything := want(func(map[string]any) bool { return true })
	created := want(func(it map[string]any) bool { return it["action"] == "feedback.created" })
	if len(created) != len(mine) {
		t.Fatalf("the whole log holds %d feedback.created events by the tester, want %d", len(created), len(mine))
	}
	votes := want(func(it map[string]any) bool { return it["subject_type"] == "change" })
	if len(votes) == 0 || len(everything) <= len(created)+len(votes) {
		t.Fatalf("the tester's events are too few to test with: %v", everything)
	}
	cases := []struct {
		query string
		want  []float64
	}{
		{"", everything},
		{"&subject_type=feedback", created},
		{fmt.Sprintf("&subject_type=feedback&subject_id=%d", mine[1]), want(func(it map[string]any) bool {
			return it["subject_type"] == "feedback" && it["subject_id"] == float64(mine[1])
		})},
		{"&subject_type=change", votes},
		{fmt.Sprintf("&subject_id=%d", mine[2]), want(func(it map[string]any) bool { return it["subject_id"] == float64(mine[2]) })},
	}
	for _, c := range cases {
		for _, limit := range []int{1, 2, 200} {
			if g := got(c.query, limit); !slices.Equal(g, c.want) {
				t.Errorf("actor_id with %q, pages of %d: events %v, want %v", c.query, limit, g, c.want)
			}
		}
	}
}
