package handlers_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"playgate/handlers"
)

// The whole flow leaves no token, password or invite link in the log.
func TestNoSecretsInLogs(t *testing.T) {
	e := newEnv(t)
	bid, ch := e.build(1)
	token := e.invite(bid, "secret-keeper@example.com")
	password := "a-password-nobody-logs"
	r := e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": token, "name": "Keeper", "password": password}).JSON(t)
	access, refresh := r["access_token"].(string), r["refresh_token"].(string)
	e.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", ch[0]), access, map[string]string{"vote": "keep"})
	e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback?q=%s", bid, token), access, map[string]any{"kind": "other", "title": "hello"})
	r2 := e.must(200, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}).JSON(t)
	e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "secret-keeper@example.com", "password": "wrong-" + password})
	e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": "secret-keeper@example.com", "password": password})
	e.do("GET", "/api/v1/me", "Bearer-garbage."+access, nil)
	e.must(204, "POST", "/api/v1/auth/logout", "", map[string]string{"refresh_token": r2["refresh_token"].(string)})
	log := e.logBuf.String()
	if !strings.Contains(log, "/api/v1/invites/redeem") {
		t.Fatalf("the log is not captured: %q", log)
	}
	for name, secret := range map[string]string{"invite token": token, "password": password, "access token": access,
		"refresh token": refresh, "rotated refresh token": r2["refresh_token"].(string), "JWT signature": access[strings.LastIndex(access, ".")+1:]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

// A rotated key: tokens signed by the previous key still verify, new ones
// are signed by the current key; a token of neither is refused.
func TestJWTKeyRotation(t *testing.T) {
	e := newEnv(t)
	old := e.admin.Token // signed with testKey
	newKey := []byte("the-new-key-of-at-least-32-bytes-long!!")
	api := handlers.New(handlers.Config{Store: e.store, Keys: handlers.Keys{Current: newKey, Previous: testKey}, Log: slog.New(slog.NewTextHandler(e.logBuf, nil))})
	h, err := api.Router()
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	e.must(200, "GET", "/api/v1/me", old, nil)
	e.login(e.admin)
	tok, _, err := jwt.NewParser().ParseUnverified(e.admin.Token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(e.admin.Token, func(*jwt.Token) (any, error) { return newKey, nil }); err != nil {
		t.Fatalf("new token not signed by the new key: %v (%v)", err, tok.Header)
	}
	// Without the previous key, the old token is refused.
	api = handlers.New(handlers.Config{Store: e.store, Keys: handlers.Keys{Current: newKey}, Log: slog.New(slog.NewTextHandler(e.logBuf, nil))})
	if e.h, err = api.Router(); err != nil {
		t.Fatal(err)
	}
	wantError(t, e.do("GET", "/api/v1/me", old, nil), 401, "unauthorized", "")
	e.must(200, "GET", "/api/v1/me", e.admin.Token, nil)
}
