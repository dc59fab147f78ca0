package handlers_test

import (
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"playgate/handlers"
)

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>ui</title>")}, "app.js": {Data: []byte("export {}")}}
	for _, public := range []string{"http://playtest.local", "https://playtest.example.com"} {
		api := handlers.New(handlers.Config{Store: e.store, Keys: handlers.Keys{Current: testKey}, UI: ui, PublicURL: public,
			Log: slog.New(slog.NewTextHandler(e.logBuf, nil))})
		h, err := api.Router()
		if err != nil {
			t.Fatal(err)
		}
		e.h = h
		for _, path := range []string{"/", "/builds/3", "/app.js", "/api/v1/me", "/api/v1/nope"} {
			token := ""
			if strings.HasPrefix(path, "/api/") {
				token = e.admin.Token
			}
			r := e.do("GET", path, token, nil)
			hd := r.Header
			if csp := hd.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "img-src 'self' blob: data:") ||
				!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("%s: headers %v", path, hd)
			}
			if hsts := hd.Get("Strict-Transport-Security"); (hsts != "") != strings.HasPrefix(public, "https://") {
				t.Errorf("%s behind %s: HSTS %q", path, public, hsts)
			}
			if api := strings.HasPrefix(path, "/api/"); api != (hd.Get("Cache-Control") == "no-store") {
				t.Errorf("%s: Cache-Control %q", path, hd.Get("Cache-Control"))
			}
		}
		// The UI's fallback serves index.html for its routes, never a directory listing or a file outside.
		for _, path := range []string{"/builds/3", "/invite", "/../../etc/passwd"} {
			if r := e.do("GET", path, "", nil); r.Status != 200 || !strings.Contains(string(r.Body), "<title>ui</title>") {
				t.Errorf("%s: %d %q", path, r.Status, r.Body)
			}
		}
		if r := e.do("GET", "/app.js", "", nil); !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Errorf("app.js served as %q", r.Header.Get("Content-Type"))
		}
		// Cookies: Secure behind https.
		r := e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": e.admin.Email, "password": e.admin.Password})
		if c := r.Header.Get("Set-Cookie"); strings.Contains(c, "Secure") != strings.HasPrefix(public, "https://") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
			t.Errorf("cookie behind %s: %q", public, c)
		}
	}
}
