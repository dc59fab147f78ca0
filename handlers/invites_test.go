package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"playgate/store"
)

func TestCreateInvite(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	path := fmt.Sprintf("/api/v1/builds/%d/invites", w.bid)
	e.checkRoles(t, w, roleCase{method: "POST", path: static(path),
		body: func(who string) any {
			return map[string]any{"email": "invitee-" + strings.ReplaceAll(who, "_", "-") + "@example.com"}
		},
		want: roles(201, 201, 201, 403, 403)})

	before := time.Now()
	r := e.must(201, "POST", path, w.po.Token, map[string]any{"email": "Player.One@Example.com", "expires_in_hours": 24})
	m := r.JSON(t)
	token, _ := m["token"].(string)
	if m["email"] != "player.one@example.com" || m["id"] == nil || len(token) < 22 {
		t.Fatalf("invite: %s", r.Body)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(m["expires_at"]))
	if err != nil || exp.Before(before.Add(24*time.Hour-time.Minute)) || exp.After(time.Now().Add(24*time.Hour+time.Minute)) {
		t.Errorf("expires_at %v, want in 24 hours", m["expires_at"])
	}
	// Without expires_in_hours an invite lasts 72 hours.
	m = e.must(201, "POST", path, e.admin.Token, map[string]any{"email": "later@example.com"}).JSON(t)
	if exp, _ := time.Parse(time.RFC3339, fmt.Sprint(m["expires_at"])); time.Until(exp) < 71*time.Hour || time.Until(exp) > 73*time.Hour {
		t.Errorf("default expiry %v, want 72 hours", m["expires_at"])
	}

	// Only the SHA-256 of the token is stored.
	if n := e.count("invites", "token_hash = ?", store.HashToken(token)); n != 1 {
		t.Errorf("no invite stored under the token's SHA-256")
	}
	if n := e.count("invites", "token_hash = ?", token); n != 0 {
		t.Errorf("the token itself is stored")
	}

	wantError(t, e.do("POST", "/api/v1/builds/999999/invites", e.admin.Token, map[string]any{"email": "x@example.com"}), 404, "not_found", "")
	e.checkValidation(t, "POST", path, e.admin.Token, []validationCase{
		{"no email", map[string]any{}, "email"},
		{"not an email", map[string]any{"email": "player"}, "email"},
		{"0 hours", map[string]any{"email": "a@example.com", "expires_in_hours": 0}, "expires_in_hours"},
		{"negative hours", map[string]any{"email": "a@example.com", "expires_in_hours": -5}, "expires_in_hours"},
		{"over 90 days", map[string]any{"email": "a@example.com", "expires_in_hours": 2161}, "expires_in_hours"},
		{"hours not a number", map[string]any{"email": "a@example.com", "expires_in_hours": "soon"}, "expires_in_hours"},
		{"fractional hours", map[string]any{"email": "a@example.com", "expires_in_hours": 1.5}, "expires_in_hours"},
	})
	e.checkBodyRules(t, "POST", path, e.admin.Token)
	if !contains(e.auditActions("&subject_type=invite"), "invite.created") {
		t.Error("no invite.created event")
	}
}

func TestListInvites(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	path := fmt.Sprintf("/api/v1/builds/%d/invites", w.bid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 403, 403)})

	mk := func(email string, hours int) (int64, string) {
		r := e.must(201, "POST", path, e.admin.Token, map[string]any{"email": email, "expires_in_hours": hours})
		return id(t, r), r.JSON(t)["token"].(string)
	}
	pending, _ := mk("pending@example.com", 72)
	redeemed, redeemTok := mk("redeemed@example.com", 72)
	expired, _ := mk("expired@example.com", 1)
	revoked, _ := mk("revoked@example.com", 72)
	e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": redeemTok, "name": "R", "password": "redeemed-password"})
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/invites/%d", revoked), w.rm.Token, nil)
	e.setClock(time.Now().Add(2 * time.Hour))
	e.login(e.admin)

	r := e.must(200, "GET", path, e.admin.Token, nil)
	status := map[int64]string{}
	for _, it := range r.Items(t) {
		status[int64(it["id"].(float64))] = fmt.Sprint(it["status"])
		if _, ok := it["token"]; ok {
			t.Errorf("the list shows a token: %v", it)
		}
		if it["build_id"] != float64(w.bid) || it["email"] == nil || it["expires_at"] == nil {
			t.Errorf("invite: %v", it)
		}
	}
	want := map[int64]string{pending: "pending", redeemed: "redeemed", expired: "expired", revoked: "revoked"}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("invite %d: status %q, want %q", k, status[k], v)
		}
	}
	if strings.Contains(string(r.Body), "token") {
		t.Errorf("the list mentions tokens: %s", r.Body)
	}
	// Deleting a spent invite is a no-op: it stays "redeemed" (revoke the tester to end access).
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/invites/%d", redeemed), e.admin.Token, nil)
	for _, it := range e.must(200, "GET", path, e.admin.Token, nil).Items(t) {
		if int64(it["id"].(float64)) == redeemed && it["status"] != "redeemed" {
			t.Errorf("a deleted redeemed invite shows %v", it["status"])
		}
	}
	// Invites of the build only.
	if n := len(e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/invites", w.otherBid), e.admin.Token, nil).Items(t)); n != 1 {
		t.Errorf("other build lists %d invites, want its 1", n)
	}
	wantError(t, e.do("GET", "/api/v1/builds/999999/invites", e.admin.Token, nil), 404, "not_found", "")
}

func TestRevokeInvite(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	invites := map[string]int64{}
	tokens := map[string]string{}
	for _, who := range everyone {
		r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", w.bid), e.admin.Token, map[string]any{"email": "r-" + strings.ReplaceAll(who, "_", "-") + "@example.com"})
		invites[who], tokens[who] = id(t, r), r.JSON(t)["token"].(string)
	}
	e.checkRoles(t, w, roleCase{method: "DELETE", path: func(who string) string { return fmt.Sprintf("/api/v1/invites/%d", invites[who]) },
		want: roles(204, 204, 204, 403, 403)})
	for _, who := range everyone {
		r := e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tokens[who], "name": "N", "password": "some-password-1"})
		if revoked := who == asAdmin || who == asReleaseManager || who == asProductOwner; revoked {
			wantError(t, r, 410, "gone", "")
		} else if r.Status != 201 {
			t.Errorf("invite %s could not revoke: redeem %d %s", who, r.Status, r.Body)
		}
	}
	// Revoking again is harmless; an unknown invite is 404.
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/invites/%d", invites[asAdmin]), e.admin.Token, nil)
	wantError(t, e.do("DELETE", "/api/v1/invites/999999", e.admin.Token, nil), 404, "not_found", "")
	if !contains(e.auditActions("&subject_type=invite"), "invite.revoked") {
		t.Error("no invite.revoked event")
	}
}

func TestRedeemInvite(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	tok := e.invite(w.bid, "Newcomer@Example.com")

	r := e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok, "name": "New Comer", "password": "newcomer-password"})
	m := r.JSON(t)
	user, _ := m["user"].(map[string]any)
	if m["build_id"] != float64(w.bid) || user["role"] != "tester" || user["email"] != "newcomer@example.com" || user["name"] != "New Comer" {
		t.Fatalf("redeem: %s", r.Body)
	}
	access, refresh := m["access_token"].(string), m["refresh_token"].(string)
	e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), access, nil)
	wantError(t, e.do("GET", fmt.Sprintf("/api/v1/builds/%d", w.otherBid), access, nil), 404, "not_found", "")
	e.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
	e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "newcomer@example.com", "password": "newcomer-password"})

	// An invite redeems once.
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok, "name": "Again", "password": "another-password"}), 410, "gone", "")
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": store.NewToken(), "name": "X", "password": "another-password"}), 404, "not_found", "")

	// Expired.
	r = e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", w.bid), e.admin.Token, map[string]any{"email": "late@example.com", "expires_in_hours": 1})
	lateTok := r.JSON(t)["token"].(string)
	e.setClock(time.Now().Add(61 * time.Minute))
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": lateTok, "name": "Late", "password": "late-password"}), 410, "gone", "")
	if n := e.count("users", "email = ?", "late@example.com"); n != 0 {
		t.Errorf("an expired invite created an account")
	}
	e.setClock(time.Now())
	e.login(e.admin)

	// A failed redeem leaves nothing behind: no account, the invite still usable.
	tok2 := e.invite(w.bid, "careful@example.com")
	e.checkValidation(t, "POST", "/api/v1/invites/redeem", "", []validationCase{
		{"no token", map[string]string{"name": "C", "password": "careful-password"}, "token"},
		{"short password", map[string]string{"token": tok2, "name": "C", "password": "short"}, "password"},
		{"no password", map[string]string{"token": tok2, "name": "C"}, "password"},
		{"new account without a name", map[string]string{"token": tok2, "password": "careful-password"}, "name"},
		{"long name", map[string]string{"token": tok2, "name": strings.Repeat("n", 101), "password": "careful-password"}, "name"},
	})
	e.checkBodyRules(t, "POST", "/api/v1/invites/redeem", "")
	if n := e.count("users", "email = ?", "careful@example.com"); n != 0 {
		t.Errorf("a refused redeem created an account")
	}
	e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok2, "name": "Careful", "password": "careful-password"})

	// An existing account: its password is required, and it gains the grant.
	tok3 := e.invite(w.bid, w.other.Email)
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok3, "password": "not-the-password"}), 401, "unauthorized", "")
	wantError(t, e.do("GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), w.other.Token, nil), 404, "not_found", "")
	r = e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok3, "password": w.other.Password})
	if u := r.JSON(t)["user"].(map[string]any); u["id"] != float64(w.other.ID) || u["name"] != w.other.Name {
		t.Errorf("redeem by an existing account answered another user: %s", r.Body)
	}
	if n := e.count("users", "email = ?", w.other.Email); n != 1 {
		t.Errorf("%d accounts for the email", n)
	}
	// The old token of that account now reads both builds.
	e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), w.other.Token, nil)
	e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", w.otherBid), w.other.Token, nil)

	// A disabled account cannot redeem, even with its password.
	tok4 := e.invite(w.otherBid, w.disabledTstr.Email)
	wantError(t, e.do("POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok4, "password": w.disabledTstr.Password}), 401, "unauthorized", "")

	// Only the SHA-256 of refresh tokens is stored.
	if n := e.count("refresh_tokens", "token_hash = ?", store.HashToken(refresh)); n != 1 {
		t.Errorf("refresh token not stored as its SHA-256")
	}
	if n := e.count("refresh_tokens", "token_hash = ?", refresh); n != 0 {
		t.Errorf("refresh token stored in clear")
	}
	if !contains(e.auditActions("&subject_type=invite"), "invite.redeemed") {
		t.Error("no invite.redeemed event")
	}
}

func TestTesters(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	path := fmt.Sprintf("/api/v1/builds/%d/testers", w.bid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 403, 403)})

	e.vote(w.tester, w.changes[0], "keep")
	e.bug(w.tester, w.bid, nil, "low", "Typo on the title screen")
	e.bug(w.tester, w.bid, nil, "high", "Sound cuts out")
	var mine map[string]any
	items := e.must(200, "GET", path, w.po.Token, nil).Items(t)
	for _, it := range items {
		if it["user_id"] == float64(w.tester.ID) {
			mine = it
		}
		if it["user_id"] == float64(w.other.ID) {
			t.Errorf("a tester of another build is listed: %v", it)
		}
	}
	if mine == nil || mine["feedback_count"] != float64(2) || mine["vote_count"] != float64(1) || mine["email"] != w.tester.Email || mine["last_active_at"] == nil {
		t.Errorf("tester row: %v", mine)
	}
	wantError(t, e.do("GET", "/api/v1/builds/999999/testers", e.admin.Token, nil), 404, "not_found", "")
}

func TestRevokeTester(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	victims := map[string]*actor{asAdmin: e.tester(w.bid), asReleaseManager: e.tester(w.bid), asProductOwner: e.tester(w.bid)}
	e.checkRoles(t, w, roleCase{method: "DELETE",
		path: func(who string) string {
			uid := w.tester.ID
			if v := victims[who]; v != nil {
				uid = v.ID
			}
			return fmt.Sprintf("/api/v1/builds/%d/testers/%d", w.bid, uid)
		},
		want: roles(204, 204, 204, 403, 403)})
	for who, v := range victims {
		if r := e.do("GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), v.Token, nil); r.Status != 404 {
			t.Errorf("tester revoked by %s still reads the build: %d", who, r.Status)
		}
	}
	// Revoking twice, or someone who is no tester of the build: 404.
	wantError(t, e.do("DELETE", fmt.Sprintf("/api/v1/builds/%d/testers/%d", w.bid, victims[asAdmin].ID), e.admin.Token, nil), 404, "not_found", "")
	wantError(t, e.do("DELETE", fmt.Sprintf("/api/v1/builds/%d/testers/%d", w.bid, w.other.ID), e.admin.Token, nil), 404, "not_found", "")
	wantError(t, e.do("DELETE", fmt.Sprintf("/api/v1/builds/999999/testers/%d", w.tester.ID), e.admin.Token, nil), 404, "not_found", "")
	// The revoked testers leave the list; the others stay.
	listed := map[float64]bool{}
	for _, it := range e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/testers", w.bid), e.admin.Token, nil).Items(t) {
		listed[it["user_id"].(float64)] = true
	}
	if !listed[float64(w.tester.ID)] || listed[float64(victims[asAdmin].ID)] {
		t.Errorf("testers after revoking: %v", listed)
	}
	if !contains(e.auditActions(fmt.Sprintf("&subject_type=build&subject_id=%d", w.bid)), "grant.revoked") {
		t.Error("no grant.revoked event")
	}
}
