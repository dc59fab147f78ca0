package static_test

// The harness of the browser tests: it builds and starts the real server,
// sets up data through the HTTP API, and drives Chromium with chromedp.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "admin-password-42"
	// stepTimeout bounds each wait; the whole test has its own deadline.
	stepTimeout = 30 * time.Second
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// chromiumPath finds the browser, or skips the test when there is none
// (unless PLAYGATE_REQUIRE_BROWSER=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("PLAYGATE_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "chromium not found: install it with apt-get install -y chromium, or set PLAYGATE_CHROMIUM to a Chrome binary"
	if os.Getenv("PLAYGATE_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// serverBinary builds ../cmd/playgate once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "playgate-ui-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "playgate")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/playgate")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ../cmd/playgate: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type server struct {
	URL  string
	logs *lockedBuffer
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs the real binary with a fresh data folder until the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	bin := serverBinary(t)
	data := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLAYGATE_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"PLAYGATE_ADDR="+addr,
		"PLAYGATE_DATA="+data,
		"PLAYGATE_ADMIN_EMAIL="+adminEmail,
		"PLAYGATE_ADMIN_PASSWORD="+adminPassword,
		"PLAYGATE_RATE_LIMITS=off",
	)
	logs := &lockedBuffer{}
	cmd := exec.Command(bin)
	cmd.Env = env
	cmd.Dir = data
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			out := logs.String()
			if len(out) > 8000 {
				out = "…" + out[len(out)-8000:]
			}
			t.Logf("server log:\n%s", out)
		}
	})
	s := &server{URL: "http://" + addr, logs: logs}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("server exited before it was ready: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready after 30s\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// client is a small API client for setting up data.
type client struct {
	t     *testing.T
	base  string
	token string
	user  map[string]any
}

func (s *server) login(t *testing.T, email, password string) *client {
	t.Helper()
	c := &client{t: t, base: s.URL}
	res := c.do("POST", "/api/v1/auth/login", map[string]any{"email": email, "password": password}, http.StatusOK)
	c.token = str(res["access_token"])
	c.user, _ = res["user"].(map[string]any)
	return c
}

func (s *server) admin(t *testing.T) *client {
	return s.login(t, adminEmail, adminPassword)
}

// raw sends a request and returns the status and body.
func (c *client) raw(method, path string, body io.Reader, header map[string]string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// do sends JSON and wants the given status; it returns the decoded object.
func (c *client) do(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	hdr := map[string]string{}
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
		hdr["Content-Type"] = "application/json"
	}
	status, data := c.raw(method, path, rd, hdr)
	if status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, want, data)
	}
	out := map[string]any{}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return out
}

func (c *client) items(path string) []map[string]any {
	c.t.Helper()
	res := c.do("GET", path, nil, http.StatusOK)
	raw, _ := res["items"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, it := range raw {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (c *client) upload(path, filename string, content []byte) map[string]any {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, err := w.CreateFormFile("file", filename)
	if err != nil {
		c.t.Fatal(err)
	}
	_, _ = fw.Write(content)
	_ = w.Close()
	status, data := c.raw("POST", path, &buf, map[string]string{"Content-Type": w.FormDataContentType()})
	if status != http.StatusCreated {
		c.t.Fatalf("upload %s: status %d: %s", path, status, data)
	}
	out := map[string]any{}
	_ = json.Unmarshal(data, &out)
	return out
}

func id(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case map[string]any:
		return id(x["id"])
	}
	return 0
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Data setup through the API.

func (c *client) createUser(email, name, role, password string) int64 {
	c.t.Helper()
	return id(c.do("POST", "/api/v1/users", map[string]any{"email": email, "name": name, "role": role, "password": password}, http.StatusCreated))
}

func (c *client) createProduct(name, slug string) int64 {
	c.t.Helper()
	return id(c.do("POST", "/api/v1/products", map[string]any{"name": name, "slug": slug}, http.StatusCreated))
}

func (c *client) createBuild(productID int64, version string, extra map[string]any) int64 {
	c.t.Helper()
	body := map[string]any{"version": version}
	for k, v := range extra {
		body[k] = v
	}
	return id(c.do("POST", fmt.Sprintf("/api/v1/products/%d/builds", productID), body, http.StatusCreated))
}

func (c *client) addChange(buildID int64, key, title string) int64 {
	c.t.Helper()
	return id(c.do("POST", fmt.Sprintf("/api/v1/builds/%d/changes", buildID), map[string]any{"key": key, "title": title, "description": "What changed in " + key + ".", "area": "Gameplay"}, http.StatusCreated))
}

func (c *client) invite(buildID int64, email string) (int64, string) {
	c.t.Helper()
	res := c.do("POST", fmt.Sprintf("/api/v1/builds/%d/invites", buildID), map[string]any{"email": email}, http.StatusCreated)
	return id(res), str(res["token"])
}

// tester invites email to the build and redeems it, returning the tester's client.
func (s *server) tester(t *testing.T, staff *client, buildID int64, email, name, password string) *client {
	t.Helper()
	_, token := staff.invite(buildID, email)
	c := &client{t: t, base: s.URL}
	res := c.do("POST", "/api/v1/invites/redeem", map[string]any{"token": token, "name": name, "password": password}, http.StatusCreated)
	c.token = str(res["access_token"])
	c.user, _ = res["user"].(map[string]any)
	return c
}

func (c *client) vote(changeID int64, vote string) {
	c.t.Helper()
	c.do("PUT", fmt.Sprintf("/api/v1/changes/%d/vote", changeID), map[string]any{"vote": vote}, http.StatusOK)
}

func (c *client) feedback(buildID int64, body map[string]any) int64 {
	c.t.Helper()
	return id(c.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", buildID), body, http.StatusCreated))
}

// testPNG is a small valid PNG.
func testPNG(t *testing.T, w, h int, c color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if (x/8+y/8)%2 == 0 {
				img.Set(x, y, c)
			} else {
				img.Set(x, y, color.RGBA{255, 255, 255, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The browser.

type tab struct {
	t        *testing.T
	ctx      context.Context
	base     string
	mu       sync.Mutex
	problems []string
	shots    int
}

// newTab starts a headless Chromium with a fresh profile. Console errors,
// uncaught exceptions, CSP violations and JavaScript dialogs are recorded and
// fail the test when it ends.
func newTab(t *testing.T, base string, width, height int64) *tab {
	t.Helper()
	exe := chromiumPath(t)
	profile := t.TempDir()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(int(max(width, 800)), int(max(height, 600))),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tb := &tab{t: t, base: base}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithListener(tb.listen))
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	// Dialogs block the page: record them and dismiss them.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.problem("JavaScript dialog opened: %s %q", ev.Type, ev.Message)
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	tctx, cancelT := context.WithTimeout(ctx, 4*time.Minute)
	tb.ctx = tctx
	t.Cleanup(func() {
		cancelT()
		cancelCtx()
		cancelAlloc()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser: %s", p)
		}
	})
	if width < 800 || height < 600 {
		tb.run("emulate viewport", chromedp.EmulateViewport(width, height))
	}
	return tb
}

func (tb *tab) problem(format string, args ...any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.problems = append(tb.problems, fmt.Sprintf(format, args...))
}

func remoteText(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	if len(o.Value) > 0 {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
		return string(o.Value)
	}
	return o.Description
}

// listen runs on the tab's event loop: record only, never call the browser.
func (tb *tab) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			parts := make([]string, 0, len(ev.Args))
			for _, a := range ev.Args {
				parts = append(parts, remoteText(a))
			}
			tb.problem("console.%s: %s", ev.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, msg)
	case *log.EventEntryAdded:
		if ev.Entry != nil && ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
			tb.problem("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
}

// run executes actions, failing the test with the page's state on error.
func (tb *tab) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.fail(step, err)
	}
}

func (tb *tab) fail(step string, err error) {
	tb.t.Helper()
	// Describe the page for the failure message, with a short deadline.
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText.slice(0, 3000) : "")`))
	if dir := os.Getenv("PLAYGATE_SCREENSHOTS"); dir != "" {
		if buf, e := chromedp.Run(ctx, chromedp.FullScreenshot(100)); e == nil {
			_ = os.WriteFile(filepath.Join(dir, shotName(tb.t.Name(), "FAILED")), buf, 0o644)
		}
	}
	tb.mu.Lock()
	problems := strings.Join(tb.problems, "\n")
	tb.mu.Unlock()
	tb.t.Fatalf("%s: %v\npage: %s\nbrowser problems so far:\n%s", step, err, state, problems)
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func shotName(test, name string) string {
	return unsafeName.ReplaceAllString(strings.TrimPrefix(test, "TestBrowser"), "_") + "-" + unsafeName.ReplaceAllString(name, "_") + ".png"
}

// shot saves a PNG of the page when PLAYGATE_SCREENSHOTS names a folder.
func (tb *tab) shot(name string) {
	tb.t.Helper()
	dir := os.Getenv("PLAYGATE_SCREENSHOTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	tb.shots++
	buf, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.fail("screenshot "+name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, shotName(tb.t.Name(), fmt.Sprintf("%02d-%s", tb.shots, name))), buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (tb *tab) nav(path string) {
	tb.t.Helper()
	tb.run("navigate to "+path, chromedp.Navigate(tb.base+path))
}

func (tb *tab) visible(sel string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		tb.fail("wait for "+sel, err)
	}
}

// click waits for an enabled, visible element and clicks it. A live page can
// redraw the element between the wait and the click, so a failed click is
// tried again with a fresh lookup.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.WaitEnabled(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		tb.fail("click "+sel, err)
	}
}

func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		tb.fail("type into "+sel, err)
	}
}

// setValue sets a field's value and fires input and change, like a user would.
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.visible(sel)
	tb.eval("set "+sel, fmt.Sprintf(`(() => { const el = document.querySelector(%s); el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`, jsString(sel), jsString(value)))
}

// until waits for a JavaScript expression to be truthy.
func (tb *tab) until(what, expr string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(stepTimeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		tb.fail("wait until "+what, err)
	}
}

// waitText waits until the element's text contains want.
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	tb.until(fmt.Sprintf("%s contains %q", sel, want), fmt.Sprintf(`(() => { const el = document.querySelector(%s); return !!el && el.textContent.includes(%s); })()`, jsString(sel), jsString(want)))
}

func (tb *tab) eval(what, expr string) {
	tb.t.Helper()
	if _, err := chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](expr, chromedp.EvalAwaitPromise)); err != nil {
		tb.fail(what, err)
	}
}

func evalAs[T any](tb *tab, what, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.fail(what, err)
	}
	return v
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return evalAs[string](tb, "text of "+sel, fmt.Sprintf(`(() => { const el = document.querySelector(%s); return el ? el.textContent : ''; })()`, jsString(sel)))
}

// login signs in through the UI.
func (tb *tab) login(email, password string) {
	tb.t.Helper()
	tb.nav("/login")
	tb.visible("#login-email")
	tb.typeInto("#login-email", email)
	tb.typeInto("#login-password", password)
	tb.click("#login-submit")
	tb.visible("#logout")
}

func (tb *tab) logout() {
	tb.t.Helper()
	tb.click("#logout")
	tb.visible("#login-form")
}

// allowDownloads makes downloads land in dir.
func (tb *tab) allowDownloads(dir string) {
	tb.t.Helper()
	if _, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior:     browser.SetDownloadBehaviorBehaviorAllow,
		DownloadPath: dir,
	}); err != nil {
		tb.fail("allow downloads", err)
	}
}

// noOverflow checks that the page does not scroll sideways.
func (tb *tab) noOverflow(where string) {
	tb.t.Helper()
	w := evalAs[[]int](tb, "page width", `[document.documentElement.scrollWidth, window.innerWidth]`)
	if len(w) == 2 && w[0] > w[1]+1 {
		tb.t.Errorf("%s: the page is %dpx wide in a %dpx viewport", where, w[0], w[1])
	}
}

func waitFile(t *testing.T, dir, suffix string) string {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), suffix) {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no *%s file appeared in %s", suffix, dir)
	return ""
}
