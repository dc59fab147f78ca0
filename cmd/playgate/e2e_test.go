package main_test

// The end-to-end test: it builds the real binary, runs it on a free port
// with a temporary data folder, walks the README's curl walk-through over
// real HTTP, restarts the process and finds everything still there; and it
// runs the operator commands (version, migrate, user add, backup) and bad
// configuration the way an operator would.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"playgate/store"
	"playgate/store/storetest"
)

// e2eVersion is stamped into the test binary, as the Dockerfile stamps releases.
const e2eVersion = "e2e-test"

// Timeouts generous enough for a loaded 2-core CI machine running -race suites beside us.
const (
	e2eStartTimeout = 90 * time.Second
	e2eStopTimeout  = 30 * time.Second
)

// TestE2E builds the binary once and runs every end-to-end scenario against it.
func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: builds and runs the playgate binary (skipped with -short)")
	}
	bin := e2eBuild(t)
	t.Run("Walkthrough/SQLite", func(t *testing.T) {
		t.Parallel()
		e2eWalkthrough(t, bin, "")
	})
	t.Run("Walkthrough/PostgreSQL", func(t *testing.T) {
		base := os.Getenv("PLAYGATE_TEST_POSTGRES")
		if base == "" {
			t.Skip("set PLAYGATE_TEST_POSTGRES=postgres://… to run the walk-through on PostgreSQL")
		}
		t.Parallel()
		e2eWalkthrough(t, bin, e2ePostgresSchema(t, base))
	})
	t.Run("GeneratedAdmin", func(t *testing.T) {
		t.Parallel()
		e2eGeneratedAdmin(t, bin)
	})
	t.Run("BackupAndUserAddWhileServing", func(t *testing.T) {
		t.Parallel()
		e2eBackupAndUserAdd(t, bin)
	})
	t.Run("Commands", func(t *testing.T) {
		t.Parallel()
		e2eCommands(t, bin)
	})
	t.Run("InvalidConfig", func(t *testing.T) {
		t.Parallel()
		e2eInvalidConfig(t, bin)
	})
	t.Run("Seed", func(t *testing.T) {
		t.Parallel()
		e2eSeed(t, bin)
	})
}

// e2eBuild compiles ./cmd/playgate into the test's temporary folder.
func e2eBuild(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goBin = filepath.Join(root, "bin", "go")
		} else {
			t.Fatalf("the go command is needed to build the binary: %v", err)
		}
	}
	bin := filepath.Join(t.TempDir(), "playgate")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", bin, "-ldflags", "-X main.version="+e2eVersion, ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// e2eEnv is the machine's environment without any PLAYGATE_ variable (CI
// sets some for the test suite), plus the given ones.
func e2eEnv(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLAYGATE_") {
			env = append(env, kv)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	return env
}

// e2eLog collects a process's output safely across goroutines.
type e2eLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *e2eLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *e2eLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// e2eServer is one running playgate process.
type e2eServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  *e2eLog
	base string
	done chan struct{}
}

var listeningLine = regexp.MustCompile(`msg="playgate listening" addr=(\S+)`)

// e2eStart runs "playgate serve" on a free port of 127.0.0.1 and waits
// until /readyz answers 200.
func e2eStart(t *testing.T, bin string, env map[string]string, args ...string) *e2eServer {
	t.Helper()
	args = append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
	s := &e2eServer{t: t, cmd: exec.Command(bin, args...), log: &e2eLog{}, done: make(chan struct{})}
	s.cmd.Env = e2eEnv(env)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() {
			t.Logf("playgate output:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(e2eStartTimeout)
	for s.base == "" {
		if m := listeningLine.FindStringSubmatch(s.log.String()); m != nil {
			s.base = "http://" + m[1]
			break
		}
		s.checkAlive(deadline)
		time.Sleep(20 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		s.checkAlive(deadline)
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *e2eServer) checkAlive(deadline time.Time) {
	s.t.Helper()
	select {
	case <-s.done:
		s.t.Fatalf("playgate exited during start (%v):\n%s", s.cmd.ProcessState, s.log.String())
	default:
	}
	if time.Now().After(deadline) {
		s.t.Fatalf("playgate was not ready within %s:\n%s", e2eStartTimeout, s.log.String())
	}
}

// stop sends SIGTERM and expects a clean exit 0 within stopTimeout.
func (s *e2eServer) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(e2eStopTimeout):
		s.t.Fatalf("playgate did not exit within %s of SIGTERM:\n%s", e2eStopTimeout, s.log.String())
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Fatalf("playgate exited %d after SIGTERM, want 0:\n%s", code, s.log.String())
	}
	if log := s.log.String(); !strings.Contains(log, `msg=stopped`) || strings.Contains(log, "did not finish cleanly") {
		s.t.Errorf("shutdown was not clean:\n%s", log)
	}
}

// e2eResp is one HTTP answer.
type e2eResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r e2eResp) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

func (r e2eResp) items(t *testing.T) []map[string]any {
	t.Helper()
	var m struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not a list: %v: %s", err, r.Body)
	}
	return m.Items
}

func (r e2eResp) code() string {
	var m struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &m)
	return m.Error.Code
}

// do sends a request; body is JSON-encoded unless it is a []byte (sent as
// is, with contentType).
func (s *e2eServer) do(method, path, token string, body any, contentType ...string) e2eResp {
	s.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
		if len(contentType) > 0 {
			ct = contentType[0]
		}
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return e2eResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// must sends a request and fails unless the status is want.
func (s *e2eServer) must(want int, method, path, token string, body any, contentType ...string) e2eResp {
	s.t.Helper()
	r := s.do(method, path, token, body, contentType...)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// login signs in and returns the access token.
func (s *e2eServer) login(email, password string) string {
	s.t.Helper()
	m := s.must(200, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}).obj(s.t)
	tok, _ := m["access_token"].(string)
	if tok == "" || m["token_type"] != "Bearer" {
		s.t.Fatalf("login answer: %v", m)
	}
	return tok
}

// id reads a JSON number as an id.
func id(t *testing.T, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok || f <= 0 {
		t.Fatalf("not an id: %#v", v)
	}
	return int64(f)
}

// field walks nested JSON objects: field(m, "totals", "bugs", "high").
func field(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = obj[p]
	}
	return cur
}

// screenshot is a small PNG made here, as a game client would capture one.
func screenshot(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 4), G: uint8(y * 5), B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartFile is a multipart/form-data body with one field "file".
func multipartFile(t *testing.T, name string, data []byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	part, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// e2eEvents reads a build's Server-Sent Events stream in the background and
// reports each event's name.
type e2eEvents struct {
	mu     sync.Mutex
	names  []string
	cancel context.CancelFunc
}

func (s *e2eServer) openEvents(token string, buildID int64) *e2eEvents {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/builds/%d/events", s.base, buildID), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		s.t.Fatalf("open the event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		s.t.Fatalf("event stream: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	ev := &e2eEvents{cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				ev.mu.Lock()
				ev.names = append(ev.names, name)
				ev.mu.Unlock()
			}
		}
	}()
	return ev
}

// waitFor waits until every name has been seen at least once.
func (ev *e2eEvents) waitFor(t *testing.T, names ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ev.mu.Lock()
		seen := map[string]bool{}
		for _, n := range ev.names {
			seen[n] = true
		}
		got := append([]string(nil), ev.names...)
		ev.mu.Unlock()
		missing := false
		for _, n := range names {
			missing = missing || !seen[n]
		}
		if !missing {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("event stream: want events %v, got %v", names, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// e2ePostgresSchema makes a fresh schema on the test server and returns a
// PLAYGATE_DB URL that uses it; the schema is dropped after the test.
func e2ePostgresSchema(t *testing.T, base string) string { return storetest.Schema(t, base) }

// e2eWalkthrough is the README's curl walk-through, then a restart.
func e2eWalkthrough(t *testing.T, bin, dbURL string) {
	const (
		adminEmail = "admin@studio.example"
		adminPW    = "correct-horse-battery"
		testerPW   = "tess-plays-2026"
		accessKey  = "SR-QC-2F9K-7XQ1"
	)
	data := t.TempDir()
	env := map[string]string{"PLAYGATE_DATA": data, "PLAYGATE_ADMIN_EMAIL": adminEmail, "PLAYGATE_ADMIN_PASSWORD": adminPW}
	if dbURL != "" {
		env["PLAYGATE_DB"] = dbURL
		// Replicas on one PostgreSQL share the key (see the README).
		env["PLAYGATE_JWT_SECRET"] = "e2e-shared-secret-of-at-least-32-bytes"
	}
	s := e2eStart(t, bin, env)

	// Operations endpoints.
	s.must(200, "GET", "/healthz", "", nil)
	s.must(200, "GET", "/readyz", "", nil)
	if doc := s.must(200, "GET", "/api/openapi.json", "", nil).obj(t); !strings.HasPrefix(fmt.Sprint(doc["openapi"]), "3.") {
		t.Errorf("/api/openapi.json: openapi = %v", doc["openapi"])
	}

	// 1. The admin signs in.
	admin := s.login(adminEmail, adminPW)
	me := s.must(200, "GET", "/api/v1/me", admin, nil).obj(t)
	if me["role"] != "admin" || me["email"] != adminEmail {
		t.Fatalf("/me: %v", me)
	}

	// 2. A product and a QC build with its access details.
	product := s.must(201, "POST", "/api/v1/products", admin, map[string]any{"name": "Star Raiders", "slug": "star-raiders"}).obj(t)
	pid := id(t, product["id"])
	build := s.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{
		"version": "1.4.0-qc1",
		"notes":   "Movement and inventory rework.",
		"access": map[string]string{
			"url":          "https://downloads.example.com/star-raiders/1.4.0-qc1.zip",
			"server":       "qc.example.com:7777",
			"key":          accessKey,
			"instructions": "Unzip, run StarRaiders.exe, enter the key at the title screen.",
		},
	}).obj(t)
	bid := id(t, build["id"])
	if build["stage"] != "qc" {
		t.Errorf("new build stage = %v, want qc", build["stage"])
	}

	// 3. Two changes for testers to vote on.
	c1 := id(t, s.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin,
		map[string]any{"key": "SR-101", "title": "Faster double jump", "area": "movement"}).obj(t)["id"])
	c2 := id(t, s.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", bid), admin,
		map[string]any{"key": "SR-102", "title": "New inventory screen", "description": "Grid instead of list.", "area": "ui"}).obj(t)["id"])

	// The live stream of the build, as the report page holds it open.
	events := s.openEvents(admin, bid)

	// 4. An invite, redeemed by a new tester.
	invite := s.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]any{"email": "tess@example.com"}).obj(t)
	inviteToken, _ := invite["token"].(string)
	if inviteToken == "" {
		t.Fatalf("invite has no token: %v", invite)
	}
	red := s.must(201, "POST", "/api/v1/invites/redeem", "", map[string]any{"token": inviteToken, "name": "Tess", "password": testerPW}).obj(t)
	tester, _ := red["access_token"].(string)
	testerRefresh, _ := red["refresh_token"].(string)
	if id(t, red["build_id"]) != bid || field(red, "user", "role") != "tester" || tester == "" || testerRefresh == "" {
		t.Fatalf("redeem answer: %v", red)
	}
	if r := s.do("POST", "/api/v1/invites/redeem", "", map[string]any{"token": inviteToken, "name": "Eve", "password": "another-password"}); r.Status != 410 || r.code() != "gone" {
		t.Errorf("second redeem: %d %s, want 410 gone", r.Status, r.Body)
	}

	// 5. The tester reads the build: the access details are there.
	got := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), tester, nil).obj(t)
	if field(got, "access", "key") != accessKey || field(got, "access", "server") != "qc.example.com:7777" {
		t.Fatalf("tester's build has no access details: %v", got)
	}
	if list := s.must(200, "GET", "/api/v1/builds", tester, nil).items(t); len(list) != 1 || id(t, list[0]["id"]) != bid {
		t.Errorf("tester's builds: %v", list)
	}
	if changes := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/changes", bid), tester, nil).items(t); len(changes) != 2 {
		t.Fatalf("tester sees %d changes, want 2", len(changes))
	}

	// 6. Votes on both changes.
	v1 := s.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", c1), tester, map[string]any{"vote": "keep"}).obj(t)
	v2 := s.must(200, "PUT", fmt.Sprintf("/api/v1/changes/%d/vote", c2), tester,
		map[string]any{"vote": "revert", "comment": "The old list was faster to use."}).obj(t)
	if v1["vote"] != "keep" || v2["vote"] != "revert" || id(t, v2["change_id"]) != c2 {
		t.Fatalf("votes: %v %v", v1, v2)
	}

	// 7. A bug on the second change, with a screenshot.
	fb := s.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tester, map[string]any{
		"kind": "bug", "severity": "high", "change_id": c2,
		"title":    "Inventory freezes when sorting by weight",
		"body":     "Open the inventory, sort by weight: the game hangs for 5 seconds.",
		"platform": map[string]string{"os": "Windows 11", "device": "RTX 3060 desktop", "client_version": "1.4.0-qc1"},
	}).obj(t)
	fid := id(t, fb["id"])
	if fb["status"] != "new" || fb["severity"] != "high" || id(t, fb["change_id"]) != c2 {
		t.Fatalf("feedback: %v", fb)
	}
	shot := screenshot(t)
	body, ct := multipartFile(t, "inventory.png", shot)
	att := s.must(201, "POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), tester, body, ct).obj(t)
	aid := id(t, att["id"])
	if att["content_type"] != "image/png" || att["width"] != 64.0 || att["height"] != 48.0 {
		t.Fatalf("attachment: %v", att)
	}
	if r := s.must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", aid), tester, nil); !bytes.Equal(r.Body, shot) || r.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("the screenshot came back as %s, %d bytes", r.Header.Get("Content-Type"), len(r.Body))
	}
	events.waitFor(t, "vote", "feedback")
	metrics := string(s.must(200, "GET", "/metrics", "", nil).Body)
	for _, want := range []string{"playgate_votes_recorded_total 2", "playgate_feedback_recorded_total 1", `playgate_http_requests_total{method="POST",route="/api/v1/auth/login",status="200"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// 8. The admin reads the report.
	checkReport := func(s *e2eServer, token string) {
		t.Helper()
		r := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", bid), token, nil)
		rep := r.obj(t)
		if field(rep, "totals", "feedback") != 1.0 || field(rep, "totals", "bugs", "high") != 1.0 || field(rep, "totals", "testers_granted") != 1.0 {
			t.Errorf("report totals: %v", rep["totals"])
		}
		lines, _ := rep["changes"].([]any)
		if len(lines) != 2 {
			t.Fatalf("report has %d changes, want 2: %s", len(lines), r.Body)
		}
		byKey := map[string]map[string]any{}
		for _, l := range lines {
			line := l.(map[string]any)
			byKey[fmt.Sprint(field(line, "change", "key"))] = line
		}
		if k := byKey["SR-101"]; field(k, "votes", "keep") != 1.0 || field(k, "votes", "revert") != 0.0 {
			t.Errorf("SR-101 line: %v", k)
		}
		if k := byKey["SR-102"]; field(k, "votes", "revert") != 1.0 || field(k, "open_bugs", "high") != 1.0 || field(k, "flag", "flagged") != false {
			t.Errorf("SR-102 line: %v", k)
		}
	}
	checkReport(s, admin)

	// 9. The release manager decides each change, passes the gate to
	// staging and copies the release notes.
	if g := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/gate", bid), admin, nil).obj(t); g["to"] != "staging" || g["ok"] != false {
		t.Errorf("gate with undecided changes: %v", g)
	}
	if r := s.do("POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), admin, map[string]any{"to": "staging"}); r.Status != 409 || r.code() != "gate_failed" {
		t.Errorf("promote with undecided changes: %d %s, want 409 gate_failed", r.Status, r.Body)
	}
	d1 := s.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", c1), admin, map[string]any{"decision": "approved", "note": "Testers like it."}).obj(t)
	d2 := s.must(200, "POST", fmt.Sprintf("/api/v1/changes/%d/decision", c2), admin, map[string]any{"decision": "reverted", "note": "Freezes on sort; back to the list."}).obj(t)
	if d1["status"] != "approved" || d2["status"] != "reverted" || field(d2, "evidence", "votes", "revert") != 1.0 {
		t.Fatalf("decisions: %v %v", d1, d2)
	}
	if g := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/gate", bid), admin, nil).obj(t); g["to"] != "staging" || g["ok"] != true {
		t.Errorf("gate with every change decided: %v", g)
	}
	if b := s.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), admin, map[string]any{"to": "staging"}).obj(t); b["stage"] != "staging" {
		t.Fatalf("promote: %v", b)
	}
	notes := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/release-notes?format=markdown", bid), admin, nil)
	if ct := notes.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/markdown") || !strings.Contains(string(notes.Body), "SR-101") {
		t.Errorf("release notes (%s):\n%s", ct, notes.Body)
	}
	events.waitFor(t, "decision", "stage")

	// Secrets never reach the log (the admin's password came from the environment).
	for name, secret := range map[string]string{"admin password": adminPW, "tester password": testerPW, "invite token": inviteToken,
		"access token": tester, "refresh token": testerRefresh} {
		if strings.Contains(s.log.String(), secret) {
			t.Errorf("the log contains the %s", name)
		}
	}

	// SIGTERM with the event stream still open: a clean, prompt exit 0.
	start := time.Now()
	s.stop()
	events.cancel()
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("shutdown with an open event stream took %s", d)
	}

	// Restart on the same data folder, without the first-admin settings.
	delete(env, "PLAYGATE_ADMIN_EMAIL")
	delete(env, "PLAYGATE_ADMIN_PASSWORD")
	s = e2eStart(t, bin, env)
	if strings.Contains(s.log.String(), "created the first admin") {
		t.Error("the restart created a first admin again")
	}
	admin = s.login(adminEmail, adminPW)

	// The tester's access token still works: the JWT key is kept.
	if me := s.must(200, "GET", "/api/v1/me", tester, nil).obj(t); me["email"] != "tess@example.com" || me["role"] != "tester" {
		t.Fatalf("tester /me after restart: %v", me)
	}
	pair := s.must(200, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": testerRefresh}).obj(t)
	tester, _ = pair["access_token"].(string)

	// Everything is still there.
	if products := s.must(200, "GET", "/api/v1/products", admin, nil).items(t); len(products) != 1 || products[0]["slug"] != "star-raiders" {
		t.Errorf("products after restart: %v", products)
	}
	got = s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", bid), tester, nil).obj(t)
	if field(got, "access", "key") != accessKey || got["stage"] != "staging" {
		t.Errorf("build after restart: %v", got)
	}
	items := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), admin, nil).items(t)
	if len(items) != 1 || id(t, items[0]["id"]) != fid || items[0]["title"] != "Inventory freezes when sorting by weight" {
		t.Fatalf("feedback after restart: %v", items)
	}
	detail := s.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), admin, nil).obj(t)
	if atts, _ := detail["attachments"].([]any); len(atts) != 1 {
		t.Fatalf("attachments after restart: %v", detail["attachments"])
	}
	if r := s.must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", aid), admin, nil); !bytes.Equal(r.Body, shot) {
		t.Errorf("the screenshot changed across the restart (%d bytes)", len(r.Body))
	}
	myVotes := map[int64]any{}
	for _, ch := range s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/changes", bid), tester, nil).items(t) {
		myVotes[id(t, ch["id"])] = ch["my_vote"]
	}
	if myVotes[c1] != "keep" || myVotes[c2] != "revert" {
		t.Errorf("the tester's votes after restart: %v", myVotes)
	}
	checkReport(s, admin)

	if dbURL != "" {
		// playgate backup is for SQLite; PostgreSQL is backed up with pg_dump.
		out, code := e2eRun(t, bin, env, "", "backup", filepath.Join(t.TempDir(), "x.db"))
		if code == 0 || !strings.Contains(out, "pg_dump") {
			t.Errorf("backup on PostgreSQL: exit %d: %s", code, out)
		}
	}
	s.stop()
}

// e2eGeneratedAdmin starts with no PLAYGATE_ADMIN_*: the first admin's
// password is printed once and works. It also checks that flags win over
// the environment.
func e2eGeneratedAdmin(t *testing.T, bin string) {
	data, elsewhere := t.TempDir(), t.TempDir()
	env := map[string]string{"PLAYGATE_DATA": elsewhere, "PLAYGATE_ADDR": "not-an-address"}
	s := e2eStart(t, bin, env, "--data", data) // e2eStart also passes --addr 127.0.0.1:0

	m := regexp.MustCompile(`msg="created the first admin: sign in and change the password" email=(\S+) password=(\S+)`).FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("the log does not show the generated admin password:\n%s", s.log.String())
	}
	email, password := m[1], m[2]
	if email != "admin@localhost" || len(password) < 10 {
		t.Fatalf("generated admin %q / %q", email, password)
	}
	if n := strings.Count(s.log.String(), password); n != 1 {
		t.Errorf("the password appears %d times in the log, want once", n)
	}
	tok := s.login(email, password)
	if me := s.must(200, "GET", "/api/v1/me", tok, nil).obj(t); me["role"] != "admin" {
		t.Fatalf("/me: %v", me)
	}

	// --data won over PLAYGATE_DATA.
	for _, f := range []string{"playgate.db", "jwt.key"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("%s is not in the --data folder: %v", f, err)
		}
		if _, err := os.Stat(filepath.Join(elsewhere, f)); err == nil {
			t.Errorf("%s was written to PLAYGATE_DATA although --data was given", f)
		}
	}
	if st, err := os.Stat(filepath.Join(data, "jwt.key")); err == nil && st.Mode().Perm()&0o077 != 0 {
		t.Errorf("jwt.key is readable by others: %v", st.Mode())
	}
	s.stop()

	// Printed once: a restart does not show it again, and it still works.
	s = e2eStart(t, bin, env, "--data", data)
	if strings.Contains(s.log.String(), password) || strings.Contains(s.log.String(), "created the first admin") {
		t.Errorf("the restart printed the admin password again:\n%s", s.log.String())
	}
	s.login(email, password)
	s.stop()
}

// e2eRun runs a playgate command to completion and returns its combined
// output and exit code.
func e2eRun(t *testing.T, bin string, env map[string]string, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = e2eEnv(env)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("playgate %s did not finish within a minute:\n%s", strings.Join(args, " "), out)
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("playgate %s: %v", strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// e2eBackupAndUserAdd runs "user add" and "backup" beside a running server,
// while it takes writes, then restores the backup into a new data folder
// and runs a server on it.
func e2eBackupAndUserAdd(t *testing.T, bin string) {
	const adminPW = "backup-admin-password"
	data := t.TempDir()
	env := map[string]string{"PLAYGATE_DATA": data, "PLAYGATE_ADMIN_EMAIL": "admin@studio.example", "PLAYGATE_ADMIN_PASSWORD": adminPW}
	s := e2eStart(t, bin, env)
	admin := s.login("admin@studio.example", adminPW)

	// Some data, a screenshot included.
	pid := id(t, s.must(201, "POST", "/api/v1/products", admin, map[string]any{"name": "Backup Test", "slug": "backup-test"}).obj(t)["id"])
	bid := id(t, s.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), admin, map[string]any{"version": "0.9.0"}).obj(t)["id"])
	token := s.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", bid), admin, map[string]any{"email": "bo@example.com"}).obj(t)["token"]
	tester := s.must(201, "POST", "/api/v1/invites/redeem", "", map[string]any{"token": token, "name": "Bo", "password": "bo-tester-password"}).obj(t)["access_token"].(string)
	fid := id(t, s.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", bid), tester, map[string]any{"kind": "praise", "title": "Lovely sky"}).obj(t)["id"])
	shot := screenshot(t)
	body, ct := multipartFile(t, "sky.png", shot)
	aid := id(t, s.must(201, "POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), tester, body, ct).obj(t)["id"])

	// user add, password from PLAYGATE_PASSWORD, while the server runs.
	addEnv := map[string]string{"PLAYGATE_DATA": data, "PLAYGATE_PASSWORD": "owner-password-1"}
	out, code := e2eRun(t, bin, addEnv, "", "user", "add", "--email", "pat@studio.example", "--name", "Pat Owner", "--role", "product_owner")
	if code != 0 || !strings.Contains(out, "created user") || !strings.Contains(out, "pat@studio.example (product_owner)") {
		t.Fatalf("user add: exit %d: %s", code, out)
	}
	po := s.login("pat@studio.example", "owner-password-1")
	if me := s.must(200, "GET", "/api/v1/me", po, nil).obj(t); me["role"] != "product_owner" || me["name"] != "Pat Owner" {
		t.Fatalf("/me of the added user: %v", me)
	}
	s.must(200, "GET", "/api/v1/products", po, nil)
	if r := s.do("POST", "/api/v1/products", po, map[string]any{"name": "Nope", "slug": "nope"}); r.Status != 403 {
		t.Errorf("a product owner created a product: %d %s", r.Status, r.Body)
	}
	// The password may also come on standard input.
	out, code = e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": data}, "release-password-2\n",
		"user", "add", "--email", "rm@studio.example", "--name", "Rae Manager", "--role", "release_manager")
	if code != 0 {
		t.Fatalf("user add with the password on stdin: exit %d: %s", code, out)
	}
	s.login("rm@studio.example", "release-password-2")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"duplicate email", addEnv, []string{"--email", "pat@studio.example", "--name", "Pat", "--role", "tester"}, "already exists"},
		{"bad role", addEnv, []string{"--email", "x@studio.example", "--name", "X", "--role", "boss"}, "--role"},
		{"short password", map[string]string{"PLAYGATE_DATA": data, "PLAYGATE_PASSWORD": "short"}, []string{"--email", "y@studio.example", "--name", "Y", "--role", "tester"}, "at least 10 characters"},
	} {
		out, code := e2eRun(t, bin, tc.env, "", append([]string{"user", "add"}, tc.args...)...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("user add, %s: exit %d, want non-zero with %q: %s", tc.name, code, tc.want, out)
		}
	}

	// backup while the server takes writes: none of them fails.
	stopWrites := make(chan struct{})
	writes := make(chan error, 1)
	var written int
	go func() {
		var err error
		defer func() { writes <- err }()
		for i := 0; i < 300; i++ {
			select {
			case <-stopWrites:
				return
			default:
			}
			req, _ := http.NewRequest("POST", s.base+"/api/v1/products", strings.NewReader(fmt.Sprintf(`{"name":"Load %d","slug":"load-%d"}`, i, i)))
			req.Header.Set("Authorization", "Bearer "+admin)
			resp, e := http.DefaultClient.Do(req)
			if e != nil {
				err = e
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				err = fmt.Errorf("POST /api/v1/products during the backup: %d %s", resp.StatusCode, b)
				return
			}
			written++
		}
	}()
	backupFile := filepath.Join(t.TempDir(), "playgate-backup.tar.gz")
	out, code = e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": data}, "", "backup", backupFile)
	close(stopWrites)
	if err := <-writes; err != nil {
		t.Error(err)
	}
	if code != 0 || !strings.Contains(out, "wrote "+backupFile) {
		t.Fatalf("backup: exit %d: %s", code, out)
	}
	t.Logf("%d products written while the backup ran", written)
	if out, code := e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": data}, "", "backup", backupFile); code == 0 || !strings.Contains(out, "exists") {
		t.Errorf("backup over an existing file: exit %d: %s", code, out)
	}
	if out, code := e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": data}, "", "backup"); code == 0 || !strings.Contains(out, "usage: playgate backup FILE") {
		t.Errorf("backup without a file: exit %d: %s", code, out)
	}

	// restore refuses a folder that has a database, and a file that is no backup.
	if out, code := e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": data}, "", "restore", backupFile); code == 0 || !strings.Contains(out, "already holds a database") {
		t.Errorf("restore over the live data folder: exit %d: %s", code, out)
	}
	notBackup := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(notBackup, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code := e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": t.TempDir()}, "", "restore", notBackup); code == 0 || !strings.Contains(out, "not a Playgate backup") {
		t.Errorf("restore of a text file: exit %d: %s", code, out)
	}

	// restore into a new folder: a sound SQLite database with the data in it.
	restored := filepath.Join(t.TempDir(), "restored")
	out, code = e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": restored}, "", "restore", backupFile)
	if code != 0 || !strings.Contains(out, "restored") {
		t.Fatalf("restore: exit %d: %s", code, out)
	}
	e2eIntegrityCheck(t, filepath.Join(restored, "playgate.db"))
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: restored})
	if err != nil {
		t.Fatalf("open the restored database with the store: %v", err)
	}
	if v, err := st.Version(ctx); err != nil || v != store.SchemaVersion() {
		t.Errorf("restored schema version %d (%v), want %d", v, err, store.SchemaVersion())
	}
	for _, email := range []string{"admin@studio.example", "pat@studio.example", "rm@studio.example", "bo@example.com"} {
		if _, err := st.UserByEmail(ctx, email); err != nil {
			t.Errorf("the backup lacks user %s: %v", email, err)
		}
	}
	products, _, err := st.Products(ctx, store.Page{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	slugs := map[string]bool{}
	for _, p := range products {
		slugs[p.Slug] = true
	}
	if !slugs["backup-test"] {
		t.Errorf("the backup lacks the product made before it: %v", slugs)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A server on the restored folder: the same accounts, the tester's
	// token still valid (the JWT key came along), the screenshot there.
	r := e2eStart(t, bin, map[string]string{"PLAYGATE_DATA": restored})
	r.login("pat@studio.example", "owner-password-1")
	if got := r.must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", aid), tester, nil); !bytes.Equal(got.Body, shot) {
		t.Errorf("the restored screenshot differs (%d bytes)", len(got.Body))
	}
	r.stop()
	s.stop()
}

// e2eIntegrityCheck runs SQLite's own check on a database file.
func e2eIntegrityCheck(t *testing.T, file string) {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+file+"?_pragma=query_only(1)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open %s as SQLite: %v", file, err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	}()
	var result string
	if err := db.Raw("PRAGMA integrity_check").Scan(&result).Error; err != nil || result != "ok" {
		t.Fatalf("integrity_check of %s: %q %v", file, result, err)
	}
}

// e2eCommands covers version, help, migrate and unknown commands.
func e2eCommands(t *testing.T, bin string) {
	out, code := e2eRun(t, bin, nil, "", "version")
	m := regexp.MustCompile(`^playgate (\S+) \(schema (\d+)\)\n$`).FindStringSubmatch(out)
	if code != 0 || m == nil || m[1] != e2eVersion {
		t.Fatalf("version: exit %d: %q", code, out)
	}
	schema, _ := strconv.Atoi(m[2])
	if schema != store.SchemaVersion() {
		t.Errorf("version says schema %d, the store knows %d", schema, store.SchemaVersion())
	}

	out, code = e2eRun(t, bin, nil, "", "help")
	for _, c := range []string{"serve", "user add", "backup FILE", "restore FILE", "migrate", "seed", "version", "healthcheck"} {
		if code != 0 || !strings.Contains(out, c) {
			t.Errorf("help: exit %d, %q missing: %s", code, c, out)
		}
	}

	data := t.TempDir()
	for i := 0; i < 2; i++ { // a second run finds nothing to do
		out, code = e2eRun(t, bin, map[string]string{"PLAYGATE_DATA": data}, "", "migrate")
		if want := fmt.Sprintf("database at schema version %d\n", schema); code != 0 || !strings.HasSuffix(out, want) {
			t.Errorf("migrate (run %d): exit %d: %q, want %q", i+1, code, out, want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "playgate.db")); err != nil {
		t.Errorf("migrate made no database: %v", err)
	}

	out, code = e2eRun(t, bin, nil, "", "frobnicate")
	if code == 0 || !strings.Contains(out, `unknown command "frobnicate"`) || !strings.Contains(out, "usage: playgate") {
		t.Errorf("unknown command: exit %d: %s", code, out)
	}
	out, code = e2eRun(t, bin, nil, "", "healthcheck", "--addr", "127.0.0.1:1")
	if code == 0 {
		t.Errorf("healthcheck with no server: exit 0: %s", out)
	}
}

// e2eSeed fills a new data folder with "playgate seed", checks the file it
// leaves, serves it and reads the seeded build as its staff and testers do;
// bad arguments are refused before anything is written.
func e2eSeed(t *testing.T, bin string) {
	data := t.TempDir()
	env := map[string]string{"PLAYGATE_DATA": data}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--changes", "0"}, "seed needs --feedback and --votes ≥ 0, --changes, --testers and --builds ≥ 1"},
		{[]string{"--feedback", "-1"}, "seed needs --feedback and --votes ≥ 0"},
		{[]string{"--password", "short"}, "the password must be at least 10 characters"},
	} {
		out, code := e2eRun(t, bin, env, "", append([]string{"seed", "--quiet"}, tc.args...)...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("seed %v: exit %d, want a failure saying %q: %s", tc.args, code, tc.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "playgate.db")); err == nil {
		t.Errorf("a refused seed made a database")
	}

	args := []string{"seed", "--quiet", "--feedback", "3000", "--votes", "400", "--changes", "12", "--testers", "40", "--password", "seeded-password-1"}
	out, code := e2eRun(t, bin, env, "", args...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		BuildID   int64            `json:"build_id"`
		Staff     []string         `json:"staff"`
		Testers   string           `json:"testers"`
		Rows      map[string]int64 `json:"rows"`
		TotalRows int64            `json:"total_rows"`
	}
	if code != 0 || json.Unmarshal([]byte(lines[len(lines)-1]), &res) != nil {
		t.Fatalf("seed: exit %d: %s", code, out)
	}
	var sum int64
	for _, n := range res.Rows {
		sum += n
	}
	if res.BuildID == 0 || res.Rows["feedback"] < 3000 || res.Rows["votes"] < 400 || sum != res.TotalRows || len(res.Staff) != 3 {
		t.Fatalf("seed summary: %+v", res)
	}
	// The load ran through a rollback journal: the file must be back in
	// write-ahead mode, and whole.
	file := filepath.Join(data, "playgate.db")
	e2eIntegrityCheck(t, file)
	db, err := gorm.Open(sqlite.Open("file:"+file+"?_pragma=query_only(1)"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	err = db.Raw("PRAGMA journal_mode").Scan(&mode).Error
	if sqlDB, derr := db.DB(); derr == nil {
		sqlDB.Close()
	}
	if err != nil || mode != "wal" {
		t.Fatalf("journal mode after seeding: %q %v, want wal", mode, err)
	}

	s := e2eStart(t, bin, env)
	admin := s.login(res.Staff[0], "seeded-password-1")
	rep := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/report", res.BuildID), admin, nil).obj(t)
	if field(rep, "totals", "feedback") != 3000.0 || field(rep, "totals", "testers_granted") != 40.0 {
		t.Errorf("report of the seeded build: %v", rep["totals"])
	}
	if changes, _ := rep["changes"].([]any); len(changes) != 12 {
		t.Errorf("report has %d changes, want 12", len(changes))
	}
	tester := s.login(strings.Replace(res.Testers, "{n}", "1", 1), "seeded-password-1")
	list := s.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback?limit=5", res.BuildID), tester, nil).items(t)
	if len(list) == 0 {
		t.Errorf("tester 1 sees none of their seeded feedback")
	}
	me := id(t, s.must(200, "GET", "/api/v1/me", tester, nil).obj(t)["id"])
	for _, it := range list {
		if id(t, it["tester_id"]) != me || id(t, it["build_id"]) != res.BuildID {
			t.Errorf("tester 1 (user %d) lists an item not theirs: %v", me, it)
		}
	}
	s.stop()
}

// e2eInvalidConfig: bad settings stop the server before it listens, with a
// message that names the setting.
func e2eInvalidConfig(t *testing.T, bin string) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"rate limits", map[string]string{"PLAYGATE_RATE_LIMITS": "maybe"}, nil, `PLAYGATE_RATE_LIMITS must be on, off or overrides like feedback=10/1m: rate limit "maybe"`},
		{"rate limit override", map[string]string{"PLAYGATE_RATE_LIMITS": "votes=0/1m"}, nil, `rate limit "votes=0/1m"`},
		{"log format", map[string]string{"PLAYGATE_LOG_FORMAT": "xml"}, nil, "PLAYGATE_LOG_FORMAT must be text or json"},
		{"short JWT secret", map[string]string{"PLAYGATE_JWT_SECRET": "too-short"}, nil, "PLAYGATE_JWT_SECRET must be at least 32 bytes"},
		{"database URL", map[string]string{"PLAYGATE_DB": "mysql://db/playgate"}, nil, "PLAYGATE_DB must be empty (SQLite) or a postgres:// URL"},
		{"public URL", map[string]string{"PLAYGATE_PUBLIC_URL": "playtest.example.com"}, nil, "PLAYGATE_PUBLIC_URL must start with http:// or https://"},
		{"shutdown timeout", map[string]string{"PLAYGATE_SHUTDOWN_TIMEOUT": "soon"}, nil, "PLAYGATE_SHUTDOWN_TIMEOUT"},
		{"flag value", map[string]string{"PLAYGATE_RATE_LIMITS": "on"}, []string{"--rate-limits", "sometimes"}, `rate limit "sometimes"`},
		{"SMTP without public URL", map[string]string{"PLAYGATE_SMTP_URL": "smtp://mail.example.com:587", "PLAYGATE_SMTP_FROM": "qa@example.com"}, nil, "PLAYGATE_SMTP_URL needs PLAYGATE_PUBLIC_URL"},
		{"retention", map[string]string{"PLAYGATE_RETENTION_DAYS": "0"}, nil, "PLAYGATE_RETENTION_DAYS must be a whole number of days of at least 1"},
		{"pprof on a public address", map[string]string{"PLAYGATE_PPROF_ADDR": "0.0.0.0:6060"}, nil, "PLAYGATE_PPROF_ADDR must be a loopback address"},
		{"unknown flag", nil, []string{"--no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{"short admin password", map[string]string{"PLAYGATE_ADMIN_PASSWORD": "short"}, nil, "PLAYGATE_ADMIN_PASSWORD must be at least 10 characters"},
	} {
		env := map[string]string{"PLAYGATE_DATA": t.TempDir()}
		for k, v := range tc.env {
			env[k] = v
		}
		args := append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)
		out, code := e2eRun(t, bin, env, "", args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%s: exit %d, want non-zero with %q:\n%s", tc.name, code, tc.want, out)
		}
		if strings.Contains(out, "playgate listening") {
			t.Errorf("%s: the server started listening:\n%s", tc.name, out)
		}
	}
}
