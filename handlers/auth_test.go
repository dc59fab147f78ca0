package handlers_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"playgate/handlers"
	"playgate/models"
	"playgate/store"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleProductOwner)

	r := e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password})
	m := r.JSON(t)
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(900) {
		t.Errorf("token_type/expires_in: %s", r.Body)
	}
	if s, _ := m["access_token"].(string); strings.Count(s, ".") != 2 {
		t.Errorf("access_token is not a JWT: %s", r.Body)
	}
	if s, _ := m["refresh_token"].(string); len(s) < 22 {
		t.Errorf("refresh_token is shorter than 128 bits: %s", r.Body)
	}
	user, _ := m["user"].(map[string]any)
	if user["id"] != float64(u.ID) || user["email"] != u.Email || user["role"] != "product_owner" || user["disabled"] != false || user["name"] != u.Name {
		t.Errorf("user: %v", user)
	}
	if strings.Contains(string(r.Body), "password") || strings.Contains(string(r.Body), "argon2") {
		t.Errorf("the answer shows the password or its hash: %s", r.Body)
	}
	// The address is matched whatever its case and surrounding spaces.
	e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "  " + strings.ToUpper(u.Email) + " ", "password": u.Password})

	// Unknown email and wrong password get the very same answer.
	wrong := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": "not-the-password"})
	unknown := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "not-the-password"})
	wantError(t, wrong, 401, "unauthorized", "")
	wantError(t, unknown, 401, "unauthorized", "")
	if string(wrong.Body) != string(unknown.Body) {
		t.Errorf("unknown email and wrong password answer differently:\n%s\n%s", wrong.Body, unknown.Body)
	}

	e.checkValidation(t, "POST", "/api/v1/auth/login", "", []validationCase{
		{"no email", map[string]string{"password": "whatever-long"}, "email"},
		{"blank email", map[string]string{"email": "  ", "password": "whatever-long"}, "email"},
		{"no password", map[string]string{"email": u.Email}, "password"},
		{"email not a string", map[string]any{"email": 42, "password": "whatever-long"}, "email"},
	})
	e.checkBodyRules(t, "POST", "/api/v1/auth/login", "")
}

func TestMe(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	e.checkRoles(t, w, roleCase{method: "GET", path: static("/api/v1/me"), want: roles(200, 200, 200, 200, 200)})

	m := e.must(200, "GET", "/api/v1/me", w.tester.Token, nil).JSON(t)
	for _, k := range []string{"id", "email", "name", "role", "disabled"} {
		if _, ok := m[k]; !ok {
			t.Errorf("/me lacks %q: %v", k, m)
		}
	}
	if m["id"] != float64(w.tester.ID) || m["role"] != "tester" || m["email"] != w.tester.Email {
		t.Errorf("/me: %v", m)
	}
	if _, ok := m["password_hash"]; ok {
		t.Errorf("/me shows the password hash: %v", m)
	}
}

// claimsOf reads a token's claims without checking it.
func claimsOf(t *testing.T, token string) jwt.MapClaims {
	t.Helper()
	cl := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, cl); err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestTokenAttacks(t *testing.T) {
	e := newEnv(t)
	real := claimsOf(t, e.admin.Token)
	if real["iss"] != "playgate" || real["sub"] != strconv.FormatInt(e.admin.ID, 10) || real["role"] != "admin" {
		t.Fatalf("unexpected claims of a real token: %v", real)
	}
	for _, k := range []string{"sub", "role", "iat", "exp", "iss", "aud"} {
		if _, ok := real[k]; !ok {
			t.Errorf("the access token lacks the %q claim: %v", k, real)
		}
	}
	if exp, iat := real["exp"].(float64), real["iat"].(float64); exp-iat != 900 {
		t.Errorf("access tokens must live 15 minutes, got %v s", exp-iat)
	}
	now := time.Now()
	// claims are a valid admin token's, changed by edit.
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": real["sub"], "sid": real["sid"], "role": "admin", "iss": "playgate", "aud": real["aud"],
			"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(jwt.SigningMethodHS256, testKey, claims(nil))
	// The forger is right: a token made this way with the real key works.
	e.must(200, "GET", "/api/v1/me", good, nil)

	parts := strings.Split(good, ".")
	cases := []struct{ name, token string }{
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil))},
		{"alg none, no dot", strings.TrimSuffix(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), ".")},
		{"another key", sign(jwt.SigningMethodHS256, []byte("another-secret-another-secret-another"), claims(nil))},
		{"expired", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-20*time.Minute).Unix(), now.Add(-5*time.Minute).Unix()
		}))},
		{"no exp", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"no iss", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "iss") }))},
		{"wrong iss", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["iss"] = "someone-else" }))},
		{"no aud", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"wrong aud", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["aud"] = []string{"another-api"} }))},
		{"issued in the future", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }))},
		{"HS512 with the right key", sign(jwt.SigningMethodHS512, testKey, claims(nil))},
		{"HS384 with the right key", sign(jwt.SigningMethodHS384, testKey, claims(nil))},
		{"no sub", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"another user's sub on this session", sign(jwt.SigningMethodHS256, testKey, claims(func(c jwt.MapClaims) { c["sub"] = "999999" }))},
		{"tampered payload", parts[0] + "." + jwtSeg(t, `{"sub":"`+real["sub"].(string)+`","role":"admin","iss":"playgate","aud":["playgate-api"],"exp":9999999999}`) + "." + parts[2]},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"garbage", "not-a-token"},
		{"three garbage parts", "a.b.c"},
		{"empty", ""},
	}
	for _, c := range cases {
		r := e.do("GET", "/api/v1/me", c.token, nil)
		if r.Status != 401 || r.Code() != "unauthorized" {
			t.Errorf("%s: status %d code %q, want 401 unauthorized: %s", c.name, r.Status, r.Code(), r.Body)
		}
	}

	// Header shapes that are not a bearer token.
	for _, h := range []string{"Basic " + e.admin.Token, e.admin.Token, "Bearer", "Bearer "} {
		req := httptest.NewRequest("GET", "/api/v1/me", nil)
		req.Header.Set("Authorization", h)
		if r := e.sendRaw(req); r.Status != 401 || r.Code() != "unauthorized" {
			t.Errorf("Authorization %.20q: %d %s", h, r.Status, r.Body)
		}
	}
	// A real token that has run its 15 minutes is refused.
	e.setClock(now.Add(16 * time.Minute))
	wantError(t, e.do("GET", "/api/v1/me", e.admin.Token, nil), 401, "unauthorized", "")
}

func jwtSeg(t *testing.T, s string) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleTester)
	first := *u

	r := e.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.Refresh})
	m := r.JSON(t)
	access2, refresh2 := m["access_token"].(string), m["refresh_token"].(string)
	if refresh2 == first.Refresh || access2 == "" {
		t.Fatalf("refresh did not rotate: %s", r.Body)
	}
	if usr, _ := m["user"].(map[string]any); usr["id"] != float64(u.ID) {
		t.Errorf("refresh answer's user: %s", r.Body)
	}
	e.must(200, "GET", "/api/v1/me", access2, nil)

	// Another session of the same user, which the reuse below must not touch.
	other := *u
	e.login(&other)

	// The spent token comes back: 401, and the whole session ends.
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.Refresh}), 401, "unauthorized", "")
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh2}), 401, "unauthorized", "")
	wantError(t, e.do("GET", "/api/v1/me", access2, nil), 401, "unauthorized", "")
	wantError(t, e.do("GET", "/api/v1/me", first.Token, nil), 401, "unauthorized", "")

	e.must(200, "GET", "/api/v1/me", other.Token, nil)
	e.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": other.Refresh})

	if !contains(e.auditActions("&subject_type=session"), "session.reuse_detected") {
		t.Error("no session.reuse_detected audit event")
	}

	// Unknown and malformed refresh tokens.
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": store.NewToken()}), 401, "unauthorized", "")
	// No token and no cookie: there is no session to refresh.
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{}), 401, "unauthorized", "")
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", nil), 401, "unauthorized", "")
	e.checkValidation(t, "POST", "/api/v1/auth/refresh", "", []validationCase{
		{"token not a string", map[string]any{"refresh_token": 7}, "refresh_token"},
	})
	e.checkBodyRules(t, "POST", "/api/v1/auth/refresh", "")
}

func TestRefreshTokenExpires(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleTester)
	e.setClock(time.Now().Add(store.RefreshLifetime + time.Minute))
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.Refresh}), 401, "unauthorized", "")
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleReleaseManager)
	e.must(204, "POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": u.Refresh})
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.Refresh}), 401, "unauthorized", "")
	// The session's access token ends with it.
	wantError(t, e.do("GET", "/api/v1/me", u.Token, nil), 401, "unauthorized", "")
	// Logging out twice, or with a token nobody knows, is still 204.
	e.must(204, "POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": u.Refresh})
	e.must(204, "POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": store.NewToken()})
	if !contains(e.auditActions("&subject_type=session"), "session.logout") {
		t.Error("no session.logout audit event")
	}
	// Nothing to log out of is still 204.
	e.must(204, "POST", "/api/v1/auth/logout", "", map[string]string{})
	e.checkValidation(t, "POST", "/api/v1/auth/logout", "", []validationCase{{"token not a string", map[string]any{"refresh_token": []int{1}}, "refresh_token"}})
	e.checkBodyRules(t, "POST", "/api/v1/auth/logout", "")
}

// refreshCookieOf finds the playgate_refresh cookie an answer sets.
func refreshCookieOf(t *testing.T, r resp) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "playgate_refresh" {
			return c
		}
	}
	t.Fatalf("no playgate_refresh cookie in %v", r.Header.Values("Set-Cookie"))
	return nil
}

func TestRefreshCookie(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleTester)
	r := e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password})
	c := refreshCookieOf(t, r)
	if c.Value != r.JSON(t)["refresh_token"] {
		t.Errorf("cookie %q is not the refresh token of the answer", c.Value)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/v1/auth" {
		t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Path=%q", c.HttpOnly, c.SameSite, c.Path)
	}
	if c.Secure {
		t.Errorf("Secure cookie over plain HTTP: the browser would never send it back")
	}

	refreshWithCookie := func(path, value string, headers ...string) resp {
		req := httptest.NewRequest("POST", path, nil)
		req.AddCookie(&http.Cookie{Name: "playgate_refresh", Value: value})
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		return e.sendRaw(req)
	}

	// Cross-site requests may not use the cookie.
	wantError(t, refreshWithCookie("/api/v1/auth/refresh", c.Value, "Origin", "https://evil.example"), 403, "forbidden", "")
	wantError(t, refreshWithCookie("/api/v1/auth/refresh", c.Value, "Sec-Fetch-Site", "cross-site"), 403, "forbidden", "")
	wantError(t, refreshWithCookie("/api/v1/auth/refresh", c.Value, "Sec-Fetch-Site", "same-site"), 403, "forbidden", "")
	wantError(t, refreshWithCookie("/api/v1/auth/logout", c.Value, "Origin", "https://evil.example"), 403, "forbidden", "")
	// The refused attempts did not spend the token: same-origin works.
	r = refreshWithCookie("/api/v1/auth/refresh", c.Value, "Origin", "http://example.com", "Sec-Fetch-Site", "same-origin")
	if r.Status != 200 {
		t.Fatalf("same-origin cookie refresh: %d %s", r.Status, r.Body)
	}
	c2 := refreshCookieOf(t, r)
	if c2.Value == c.Value || c2.Value != r.JSON(t)["refresh_token"] {
		t.Errorf("the refresh did not set the new token as cookie")
	}
	e.must(200, "GET", "/api/v1/me", r.JSON(t)["access_token"].(string), nil)
	// With no Origin and no Sec-Fetch-Site (a script), the cookie works too.
	r = refreshWithCookie("/api/v1/auth/refresh", c2.Value)
	if r.Status != 200 {
		t.Fatalf("cookie refresh: %d %s", r.Status, r.Body)
	}
	c3 := refreshCookieOf(t, r)

	// Logout with the cookie ends the session and clears the cookie.
	r = refreshWithCookie("/api/v1/auth/logout", c3.Value)
	if r.Status != 204 {
		t.Fatalf("cookie logout: %d %s", r.Status, r.Body)
	}
	if cl := refreshCookieOf(t, r); cl.MaxAge >= 0 && cl.Value != "" {
		t.Errorf("logout did not clear the cookie: %+v", cl)
	}
	wantError(t, refreshWithCookie("/api/v1/auth/refresh", c3.Value), 401, "unauthorized", "")

	// Redeeming an invite sets the cookie too.
	bid, _ := e.build(0)
	tok := e.invite(bid, "cookie-tester@example.com")
	r = e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": tok, "name": "Cookie", "password": "cookie-password-1"})
	if rc := refreshCookieOf(t, r); rc.Value != r.JSON(t)["refresh_token"] || !rc.HttpOnly {
		t.Errorf("redeem cookie: %+v", rc)
	}

	// Behind HTTPS the cookie is Secure.
	api := handlers.New(handlers.Config{Store: e.store, Keys: handlers.Keys{Current: testKey}, PublicURL: "https://playtest.example.com", Log: quietLog})
	h, err := api.Router()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/v1/auth/login", jsonBody(t, map[string]string{"email": u.Email, "password": u.Password}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("login on the HTTPS instance: %d %s", rec.Code, rec.Body)
	}
	if sc := refreshCookieOf(t, resp{Header: rec.Header()}); !sc.Secure {
		t.Errorf("cookie behind HTTPS is not Secure")
	}
}

func TestLoginThrottlePerAccount(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleTester)
	bystander := e.user(models.RoleTester)
	for i := 0; i < 5; i++ {
		wantError(t, e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": fmt.Sprintf("wrong-password-%d", i)}), 401, "unauthorized", "")
	}
	// The sixth try is refused even with the right password.
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password})
	wantError(t, r, 429, "rate_limited", "")
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 15*60 {
		t.Errorf("Retry-After %q: want whole seconds up to 900", r.Header.Get("Retry-After"))
	}
	// Other accounts from the same address are not locked out.
	e.login(bystander)

	// The failures are rows of the database...
	if n := e.count("login_failures", "email = ?", u.Email); n != 5 {
		t.Errorf("login_failures rows for the account: %d, want 5", n)
	}
	// ...so a second replica on the same database throttles too.
	v, _ := testDBs.Load(e.store)
	st2, err := store.Open(context.Background(), v.(store.Options))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	h2, err := handlers.New(handlers.Config{Store: st2, Keys: handlers.Keys{Current: testKey}, Log: quietLog}).Router()
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/v1/auth/login", jsonBody(t, map[string]string{"email": u.Email, "password": u.Password}))
	req.RemoteAddr = "198.51.100.7:999"
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, req)
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
		t.Errorf("second replica: %d %s, want 429 with Retry-After", rec.Code, rec.Body)
	}

	// Every failure is audited.
	failed := 0
	for _, a := range e.auditActions(fmt.Sprintf("&subject_type=user&subject_id=%d", u.ID)) {
		if a == "auth.login_failed" {
			failed++
		}
	}
	if failed != 5 {
		t.Errorf("auth.login_failed events for the account: %d, want 5", failed)
	}

	// Once the window has passed, the right password works again and clears the count.
	e.setClock(time.Now().Add(15*time.Minute + 5*time.Second))
	e.login(u)
	if n := e.count("login_failures", "email = ?", u.Email); n != 0 {
		t.Errorf("login_failures left after a successful login: %d", n)
	}
}

func TestLoginThrottlePerIP(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleTester)
	for i := 0; i < 20; i++ {
		wantError(t, e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": fmt.Sprintf("guess%d@example.com", i), "password": "guessed-password"}), 401, "unauthorized", "")
	}
	if n := e.count("login_failures", "ip = ?", "192.0.2.1"); n != 20 {
		t.Errorf("login_failures rows for the address: %d, want 20", n)
	}
	r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password})
	wantError(t, r, 429, "rate_limited", "")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// An X-Forwarded-For from an untrusted client does not get around it.
	req := httptest.NewRequest("POST", "/api/v1/auth/login", jsonBody(t, map[string]string{"email": u.Email, "password": u.Password}))
	req.Header.Set("X-Forwarded-For", "203.0.113.50")
	if r := e.sendRaw(req); r.Status != 429 {
		t.Errorf("spoofed X-Forwarded-For: %d, want 429", r.Status)
	}
	// The same account from another address signs in.
	req = httptest.NewRequest("POST", "/api/v1/auth/login", jsonBody(t, map[string]string{"email": u.Email, "password": u.Password}))
	req.RemoteAddr = "198.51.100.8:4321"
	if r := e.sendRaw(req); r.Status != 200 {
		t.Errorf("another address: %d %s", r.Status, r.Body)
	}
}

func TestDisabledUserCutOff(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleReleaseManager)
	e.must(200, "GET", "/api/v1/me", u.Token, nil)
	r := e.must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), e.admin.Token, map[string]any{"disabled": true})
	if r.JSON(t)["disabled"] != true {
		t.Fatalf("PATCH answer: %s", r.Body)
	}
	// The very next request with the old token is refused.
	wantError(t, e.do("GET", "/api/v1/me", u.Token, nil), 401, "unauthorized", "")
	wantError(t, e.do("GET", "/api/v1/products", u.Token, nil), 401, "unauthorized", "")
	// So are the refresh token and a login with the right password.
	wantError(t, e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.Refresh}), 401, "unauthorized", "")
	wantError(t, e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password}), 401, "unauthorized", "")

	// Enabled again, the user signs in anew; the old session stays ended.
	e.must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", u.ID), e.admin.Token, map[string]any{"disabled": false})
	wantError(t, e.do("GET", "/api/v1/me", u.Token, nil), 401, "unauthorized", "")
	e.login(u)
	e.must(200, "GET", "/api/v1/me", u.Token, nil)
}

// A token is verified once and then remembered, but every request still
// checks it against the clock: not before it was issued, not after it ran
// out.
func TestRememberedTokenStillTimed(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.must(200, "GET", "/api/v1/me", e.admin.Token, nil)
	e.must(200, "GET", "/api/v1/me", e.admin.Token, nil)
	e.setClock(now.Add(-time.Hour))
	wantError(t, e.do("GET", "/api/v1/me", e.admin.Token, nil), 401, "unauthorized", "")
	e.setClock(now)
	e.must(200, "GET", "/api/v1/me", e.admin.Token, nil)
	e.setClock(now.Add(15*time.Minute + time.Second))
	wantError(t, e.do("GET", "/api/v1/me", e.admin.Token, nil), 401, "unauthorized", "")
}
