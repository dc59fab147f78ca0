package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"playgate/handlers"
	"playgate/models"
	"playgate/store"
	"playgate/store/storetest"
)

// env is one test's server: a fresh database (SQLite in a temp folder, or a
// fresh PostgreSQL schema when PLAYGATE_TEST_POSTGRES is set), the real
// router, and fixture builders that go through the public API.
type env struct {
	t      *testing.T
	store  *store.Store
	api    *handlers.API
	h      http.Handler
	logBuf *syncBuffer
	admin  *actor
	seq    int
	// clock, when set, is the store's time.
	clock time.Time
}

// actor is a signed-in user of the test.
type actor struct {
	models.User
	Password string
	Token    string
	Refresh  string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testKey is the HMAC key tests sign with.
var testKey = []byte("test-secret-test-secret-test-secret!")

// openTestStore opens a fresh database for one test.
func openTestStore(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	opts := storetest.Options(t)
	st, err := store.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	testDBs.Store(st, opts)
	return st
}

// testDBs remembers how each test store was opened, so a test can look at
// the stored rows through its own connection (see rawDB).
var testDBs sync.Map // *store.Store → store.Options

func newEnv(t *testing.T) *env {
	t.Helper()
	st := openTestStore(t)
	buf := &syncBuffer{}
	api := handlers.New(handlers.Config{Store: st, Keys: handlers.Keys{Current: testKey}, Log: slog.New(slog.NewTextHandler(buf, nil))})
	r, err := api.Router()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, api: api, h: r, logBuf: buf}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", buf.String())
		}
	})
	e.admin = e.user(models.RoleAdmin)
	return e
}

// setClock moves the store's (and the token checker's) time.
func (e *env) setClock(at time.Time) {
	e.clock = at
	e.store.SetClock(func() time.Time { return e.clock })
}

// resp is an answer as a test sees it.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Code is the error code of an error answer ("" otherwise).
func (r resp) Code() string {
	var m struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.Error.Code
}

// Items decodes a list answer's items.
func (r resp) Items(t *testing.T) []map[string]any {
	t.Helper()
	var m struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("not a list: %v: %s", err, r.Body)
	}
	return m.Items
}

// do sends a request through the real router; body is marshalled unless it
// is a string or []byte.
func (e *env) do(method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	w := serveRequest(e.h, method, path, token, rd, headers...)
	return resp{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// serveRequest sends one request through h, as a client at 192.0.2.1 with a
// bearer token (when given), a JSON body (when given) and header pairs.
func serveRequest(h http.Handler, method, path, token string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	req.RemoteAddr = "192.0.2.1:1234"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, token, body, headers...)
	if r.Status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

func (e *env) next() int { e.seq++; return e.seq }

// user creates a signed-in user of a role (through the store, quickly).
func (e *env) user(role models.Role) *actor {
	e.t.Helper()
	n := e.next()
	pw := fmt.Sprintf("password-%d-long", n)
	hash, err := models.HashPassword(pw)
	if err != nil {
		e.t.Fatal(err)
	}
	u := models.User{Email: fmt.Sprintf("%s%d@example.com", role, n), Name: fmt.Sprintf("%s %d", role, n), Role: role, PasswordHash: hash}
	if err := e.store.CreateUser(context.Background(), nil, &u); err != nil {
		e.t.Fatal(err)
	}
	a := &actor{User: u, Password: pw}
	e.login(a)
	return a
}

// login signs an actor in through the API.
func (e *env) login(a *actor) {
	e.t.Helper()
	r := e.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": a.Email, "password": a.Password})
	m := r.JSON(e.t)
	a.Token, a.Refresh = m["access_token"].(string), m["refresh_token"].(string)
}

// product creates a product as admin and returns its id.
func (e *env) product() int64 {
	e.t.Helper()
	n := e.next()
	r := e.must(201, "POST", "/api/v1/products", e.admin.Token, map[string]string{"name": fmt.Sprintf("Game %d", n), "slug": fmt.Sprintf("game-%d", n)})
	return int64(r.JSON(e.t)["id"].(float64))
}

// build creates a build of a new product with n changes; it returns the
// build id and the change ids.
func (e *env) build(changes int, extra ...map[string]any) (int64, []int64) {
	e.t.Helper()
	pid := e.product()
	body := map[string]any{"version": fmt.Sprintf("1.%d.0", e.next()), "access": map[string]string{"url": "https://dl.example.com/qc.zip", "server": "qc.example.com:7777", "key": "QC-KEY-1"}}
	for _, x := range extra {
		for k, v := range x {
			body[k] = v
		}
	}
	r := e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), e.admin.Token, body)
	bid := int64(r.JSON(e.t)["id"].(float64))
	var ids []int64
	for i := 0; i < changes; i++ {
		r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), e.admin.Token,
			map[string]string{"key": fmt.Sprintf("PG-%d", i+1), "title": fmt.Sprintf("Change %d", i+1)})
		ids = append(ids, int64(r.JSON(e.t)["id"].(float64)))
	}
	return bid, ids
}

// tester invites a new email to a build and redeems it through the API.
func (e *env) tester(buildID int64) *actor {
	e.t.Helper()
	n := e.next()
	email := fmt.Sprintf("tester%d@example.com", n)
	token := e.invite(buildID, email)
	pw := fmt.Sprintf("tester-password-%d", n)
	r := e.must(201, "POST", "/api/v1/invites/redeem", "", map[string]string{"token": token, "name": fmt.Sprintf("Tester %d", n), "password": pw})
	m := r.JSON(e.t)
	u := m["user"].(map[string]any)
	return &actor{User: models.User{ID: int64(u["id"].(float64)), Email: email, Name: u["name"].(string), Role: models.RoleTester},
		Password: pw, Token: m["access_token"].(string), Refresh: m["refresh_token"].(string)}
}

// invite creates an invite as admin and returns its token.
func (e *env) invite(buildID int64, email string) string {
	e.t.Helper()
	r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", buildID), e.admin.Token, map[string]any{"email": email})
	return r.JSON(e.t)["token"].(string)
}

// bug files a bug as a tester and returns its id.
func (e *env) bug(tester *actor, buildID int64, changeID *int64, severity, title string) int64 {
	e.t.Helper()
	body := map[string]any{"kind": "bug", "severity": severity, "title": title}
	if changeID != nil {
		body["change_id"] = *changeID
	}
	r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", buildID), tester.Token, body)
	return int64(r.JSON(e.t)["id"].(float64))
}

func (e *env) vote(tester *actor, changeID int64, vote string) {
	e.t.Helper()
	e.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", changeID), tester.Token, map[string]string{"vote": vote})
}

func ptr[T any](v T) *T { return &v }
