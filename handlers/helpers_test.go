package handlers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"playgate/models"
	"playgate/store"
)

// quietLog is the log of extra API instances a test builds.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// The callers every role table names. "disabled_admin" and "disabled_tester"
// signed in, then an admin disabled them: their old tokens must stop at once.
const (
	asAdmin          = "admin"
	asReleaseManager = "release_manager"
	asProductOwner   = "product_owner"
	asTester         = "tester"
	asOtherTester    = "other_tester"
	asDisabledAdmin  = "disabled_admin"
	asDisabledTester = "disabled_tester"
	asAnonymous      = "anonymous"
)

var everyone = []string{asAdmin, asReleaseManager, asProductOwner, asTester, asOtherTester, asDisabledAdmin, asDisabledTester, asAnonymous}

// world is a build with every kind of caller the contract names.
type world struct {
	bid          int64
	changes      []int64
	otherBid     int64
	otherChanges []int64
	rm, po       *actor
	tester       *actor // granted to bid
	other        *actor // granted to otherBid only
	disabledAdm  *actor
	disabledTstr *actor // granted to bid, then disabled
}

// world makes a build with nChanges changes, another build with one change,
// and a signed-in caller of every kind.
func (e *env) world(nChanges int) *world {
	e.t.Helper()
	w := &world{}
	w.bid, w.changes = e.build(nChanges)
	w.otherBid, w.otherChanges = e.build(1)
	w.rm = e.user(models.RoleReleaseManager)
	w.po = e.user(models.RoleProductOwner)
	w.tester = e.tester(w.bid)
	w.other = e.tester(w.otherBid)
	w.disabledAdm = e.user(models.RoleAdmin)
	w.disabledTstr = e.tester(w.bid)
	for _, a := range []*actor{w.disabledAdm, w.disabledTstr} {
		e.must(200, "PATCH", fmt.Sprintf("/api/v1/users/%d", a.ID), e.admin.Token, map[string]any{"disabled": true})
	}
	return w
}

// actor returns the caller named who (nil for anonymous).
func (w *world) actor(e *env, who string) *actor {
	switch who {
	case asAdmin:
		return e.admin
	case asReleaseManager:
		return w.rm
	case asProductOwner:
		return w.po
	case asTester:
		return w.tester
	case asOtherTester:
		return w.other
	case asDisabledAdmin:
		return w.disabledAdm
	case asDisabledTester:
		return w.disabledTstr
	case asAnonymous:
		return nil
	}
	panic("unknown caller " + who)
}

func (w *world) token(e *env, who string) string {
	if a := w.actor(e, who); a != nil {
		return a.Token
	}
	return ""
}

// codeFor is the error code the contract pairs with an error status.
func codeFor(status int) string {
	switch status {
	case 400:
		return "validation_failed"
	case 401:
		return "unauthorized"
	case 403:
		return "forbidden"
	case 404:
		return "not_found"
	case 409:
		return "conflict"
	case 410:
		return "gone"
	case 413:
		return "too_large"
	case 415:
		return "unsupported_media_type"
	case 429:
		return "rate_limited"
	}
	return ""
}

// roleCase is one endpoint's expected status for every caller; path and
// body may depend on the caller (unique names, one invite each...).
type roleCase struct {
	method string
	path   func(who string) string
	body   func(who string) any
	want   map[string]int
}

// static wraps a fixed path or body.
func static(s string) func(string) string { return func(string) string { return s } }

// checkRoles sends the request as every caller and checks status and code.
// The table must name every caller, so no role is forgotten.
func (e *env) checkRoles(t *testing.T, w *world, c roleCase) {
	t.Helper()
	for _, who := range everyone {
		want, ok := c.want[who]
		if !ok {
			t.Fatalf("%s %s: the table does not say what %s gets", c.method, c.path(who), who)
		}
		var body any
		if c.body != nil {
			body = c.body(who)
		}
		r := e.do(c.method, c.path(who), w.token(e, who), body)
		if r.Status != want {
			t.Errorf("%s %s as %s: status %d, want %d: %s", c.method, c.path(who), who, r.Status, want, r.Body)
			continue
		}
		if code := codeFor(want); want >= 400 && r.Code() != code {
			t.Errorf("%s %s as %s: code %q, want %q: %s", c.method, c.path(who), who, r.Code(), code, r.Body)
		}
	}
}

// roles builds a want map: staff (admin, release manager, product owner),
// the granted tester and the tester of another build; disabled users and
// anonymous callers always get 401.
func roles(admin, rm, po, tester, other int) map[string]int {
	return map[string]int{asAdmin: admin, asReleaseManager: rm, asProductOwner: po, asTester: tester, asOtherTester: other,
		asDisabledAdmin: 401, asDisabledTester: 401, asAnonymous: 401}
}

// wantError checks an error answer: status, code and, for validation
// errors, the field named in error.fields.
func wantError(t *testing.T, r resp, status int, code string, field string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	var m struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("not the error envelope: %v: %s", err, r.Body)
	}
	if m.Error.Code != code {
		t.Fatalf("code %q, want %q: %s", m.Error.Code, code, r.Body)
	}
	if m.Error.Message == "" {
		t.Fatalf("error without a message: %s", r.Body)
	}
	if field != "" && m.Error.Fields[field] == "" {
		t.Fatalf("error.fields lacks %q: %s", field, r.Body)
	}
}

// validationCase is one bad body and the field it must be blamed on.
type validationCase struct {
	name  string
	body  any
	field string
}

// checkValidation sends each bad body and expects 400 validation_failed
// naming the field.
func (e *env) checkValidation(t *testing.T, method, path, token string, cases []validationCase) {
	t.Helper()
	for _, c := range cases {
		r := e.do(method, path, token, c.body)
		if r.Status != 400 || r.Code() != "validation_failed" {
			t.Errorf("%s: %s %s: status %d code %q, want 400 validation_failed: %s", c.name, method, path, r.Status, r.Code(), r.Body)
			continue
		}
		var m struct {
			Error struct {
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &m)
		if m.Error.Fields[c.field] == "" {
			t.Errorf("%s: error.fields lacks %q: %s", c.name, c.field, r.Body)
		}
	}
}

// checkBodyRules checks the rules every JSON body shares: malformed JSON and
// unknown fields are 400 invalid_json, a body over 1 MiB is 413 too_large.
func (e *env) checkBodyRules(t *testing.T, method, path, token string) {
	t.Helper()
	huge := `{"x": "` + strings.Repeat("a", 1<<20+10) + `"}`
	for _, c := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"malformed", `{"a": `, 400, "invalid_json"},
		{"not an object", `[1, 2]`, 400, "invalid_json"},
		{"two documents", `{} {}`, 400, "invalid_json"},
		{"unknown field", `{"no_such_field": 1}`, 400, "invalid_json"},
		{"over 1 MiB", huge, 413, "too_large"},
	} {
		r := e.do(method, path, token, c.body)
		if r.Status != c.status || r.Code() != c.code {
			t.Errorf("%s %s with a %s body: %d %q, want %d %q: %.200s", method, path, c.name, r.Status, r.Code(), c.status, c.code, r.Body)
		}
	}
}

// id reads the "id" of a JSON answer.
func id(t *testing.T, r resp) int64 {
	t.Helper()
	v, ok := r.JSON(t)["id"].(float64)
	if !ok {
		t.Fatalf("answer has no id: %s", r.Body)
	}
	return int64(v)
}

// ids reads the ids of a list answer, in order.
func ids(t *testing.T, r resp) []int64 {
	t.Helper()
	var out []int64
	for _, it := range r.Items(t) {
		out = append(out, int64(it["id"].(float64)))
	}
	return out
}

// nextCursor reads a list answer's next_cursor ("" when null).
func nextCursor(t *testing.T, r resp) string {
	t.Helper()
	var m struct {
		Next *string `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Next == nil {
		return ""
	}
	return *m.Next
}

// rawDB is a connection of the test's own to the store's database, to look
// at what is really stored.
func (e *env) rawDB() *gorm.DB {
	e.t.Helper()
	v, ok := testDBs.Load(e.store)
	if !ok {
		e.t.Fatal("store not opened by openTestStore")
	}
	o := v.(store.Options)
	var d gorm.Dialector
	if o.URL != "" {
		d = postgres.Open(o.URL)
	} else {
		d = sqlite.Open("file:" + filepath.Join(o.DataDir, "playgate.db") + "?_pragma=busy_timeout(10000)")
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// count counts rows of a table matching where.
func (e *env) count(table, where string, args ...any) int64 {
	e.t.Helper()
	var n int64
	q := e.rawDB().Table(table)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// intCol reads one integer column of one row.
func (e *env) intCol(table, col string, id int64) int64 {
	e.t.Helper()
	var n int64
	if err := e.rawDB().Table(table).Select(col).Where("id = ?", id).Scan(&n).Error; err != nil {
		e.t.Fatalf("read %s.%s: %v", table, col, err)
	}
	return n
}

// auditActions lists the actions of the audit log, newest first, as admin.
func (e *env) auditActions(query string) []string {
	e.t.Helper()
	r := e.must(200, "GET", "/api/v1/audit?limit=200"+query, e.admin.Token, nil)
	var out []string
	for _, it := range r.Items(e.t) {
		out = append(out, it["action"].(string))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// feedback files an item as a tester and returns the answer.
func (e *env) feedback(tester *actor, buildID int64, body map[string]any, headers ...string) resp {
	e.t.Helper()
	return e.do("POST", fmt.Sprintf("/api/v1/builds/%d/feedback", buildID), tester.Token, body, headers...)
}

// upload sends a multipart upload with field "file" named filename.
func (e *env) upload(token string, feedbackID int64, filename string, data []byte) resp {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", filename)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		e.t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		e.t.Fatal(err)
	}
	req := httptest.NewRequest("POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", feedbackID), &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// sendRaw sends a prepared request through the router.
func (e *env) sendRaw(req *http.Request) resp {
	if req.RemoteAddr == "" || req.RemoteAddr == "192.0.2.1:1234" {
		req.RemoteAddr = "192.0.2.1:1234"
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Images for uploads.

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 40), uint8(y * 40), 200, 255})
		}
	}
	return img
}

func pngBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// webpBytes is a lossless WebP (a RIFF file with one VP8L chunk) whose
// header says w×h; the standard library cannot write WebP, so it is made
// by hand.
func webpBytes(w, h int) []byte {
	v := uint32(w-1) | uint32(h-1)<<14
	chunk := []byte{0x2f, byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), 0}
	var b bytes.Buffer
	b.WriteString("RIFF")
	size := 4 + 8 + len(chunk)
	b.Write([]byte{byte(size), byte(size >> 8), byte(size >> 16), byte(size >> 24)})
	b.WriteString("WEBPVP8L")
	b.Write([]byte{byte(len(chunk)), 0, 0, 0})
	b.Write(chunk)
	return b.Bytes()
}

// bombPNG is a tiny PNG whose header claims w×h pixels: only the
// signature, a valid IHDR chunk and IEND, no image data to decode.
func bombPNG(w, h int) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w), byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h), 8, 6, 0, 0, 0}
	writeChunk(&b, "IHDR", ihdr)
	writeChunk(&b, "IEND", nil)
	return b.Bytes()
}

func writeChunk(b *bytes.Buffer, typ string, data []byte) {
	n := len(data)
	b.Write([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.ChecksumIEEE(append([]byte(typ), data...))
	b.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
}

// jsonBody marshals v, for requests sent with sendRaw.
func jsonBody(t testing.TB, v any) *bytes.Reader {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// newRequest prepares a request for sendRaw, with a bearer token if given.
func newRequest(method, path string, body io.Reader, token string) *http.Request {
	req := httptest.NewRequest(method, path, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}
