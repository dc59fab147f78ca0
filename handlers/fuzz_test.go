package handlers_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/glebarez/sqlite"
	"github.com/golang-jwt/jwt/v5"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"playgate/handlers"
	"playgate/models"
	"playgate/store"
)

// Fuzz targets: every JSON body, the upload path, list queries, the CSV
// export and token parsing, all through the real router. The properties
// are the same everywhere: never a 500 or a panic, every error in the
// contract's envelope with a code that goes with its status, and nothing
// stored when the answer is 4xx. `go test` runs the committed seeds in
// testdata/fuzz; `go test -fuzz=FuzzName -fuzztime=15s ./handlers` explores.

// fuzzEnv is one server shared by every iteration of a fuzz target, so an
// iteration costs one request, not a new database.
type fuzzEnv struct {
	e     *env
	db    *gorm.DB
	log   *tailBuffer
	setup func(fz *fuzzEnv)
	ready bool

	w   *world
	fid int64 // an item of w.tester on w.bid
	// Scratch targets for routes whose success would disturb the others.
	scratchUser, scratchProduct, scratchBuild, scratchChange int64
	// pwActor changes their own password.
	pwActor *actor
}

// newFuzzEnv opens the database and router before f.Fuzz. The fixtures are
// made on the first iteration: the env's helpers need a *testing.T.
func newFuzzEnv(f *testing.F, setup func(fz *fuzzEnv)) *fuzzEnv {
	f.Helper()
	st := openTestStore(f)
	log := &tailBuffer{}
	api := handlers.New(handlers.Config{Store: st, Keys: handlers.Keys{Current: testKey}, Log: slog.New(slog.NewTextHandler(log, nil))})
	r, err := api.Router()
	if err != nil {
		f.Fatal(err)
	}
	fz := &fuzzEnv{e: &env{store: st, api: api, h: r}, log: log, setup: setup}
	fz.db = fuzzRawDB(f, st)
	return fz
}

// begin hands the iteration's t to the env and builds the fixtures once.
func (fz *fuzzEnv) begin(t *testing.T) *env {
	e := fz.e
	e.t = t
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", fz.log.String())
		}
	})
	if !fz.ready {
		e.admin = e.user(models.RoleAdmin)
		fz.w = e.world(2)
		fz.fid = e.bug(fz.w.tester, fz.w.bid, &fz.w.changes[0], "medium", "Fuzz target bug")
		fz.scratchUser = e.user(models.RoleProductOwner).ID
		fz.pwActor = e.user(models.RoleProductOwner)
		fz.scratchBuild, _ = e.build(0)
		fz.scratchChange = id(t, e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/changes", fz.scratchBuild), e.admin.Token,
			map[string]string{"key": "SCRATCH-1", "title": "Scratch change"}))
		b := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", fz.scratchBuild), e.admin.Token, nil).JSON(t)
		fz.scratchProduct = int64(b["product_id"].(float64))
		if fz.setup != nil {
			fz.setup(fz)
		}
		fz.ready = true
	}
	return e
}

// fuzzRawDB is the fuzz target's own connection to the store's database.
func fuzzRawDB(tb testing.TB, st *store.Store) *gorm.DB {
	tb.Helper()
	v, ok := testDBs.Load(st)
	if !ok {
		tb.Fatal("store not opened by openTestStore")
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
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			sqlDB.Close()
		}
	})
	return db
}

// tailBuffer keeps the last 64 KiB of the server log.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *tailBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if over := len(l.b) - 64<<10; over > 0 {
		l.b = append(l.b[:0], l.b[over:]...)
	}
	return len(p), nil
}

func (l *tailBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

// fingerprint is a cheap summary of what is stored: any state change moves
// it. Failed logins and a detected refresh-token reuse are audited on
// purpose (the contract wants them on record), so they are left out.
type fingerprint struct {
	Users, Products, Builds, Changes, Invites, Grants, Votes int64
	Feedback, Comments, Attachments, Audit, Events           int64
	Files                                                    int
}

func (fz *fuzzEnv) fingerprint(t *testing.T) fingerprint {
	t.Helper()
	var fp fingerprint
	err := fz.db.Raw(`SELECT
		(SELECT count(*) FROM users) AS users,
		(SELECT count(*) FROM products) AS products,
		(SELECT count(*) FROM builds) AS builds,
		(SELECT count(*) FROM changes) AS changes,
		(SELECT count(*) FROM invites) AS invites,
		(SELECT count(*) FROM grants WHERE revoked_at IS NULL) AS grants,
		(SELECT count(*) FROM votes) AS votes,
		(SELECT count(*) FROM feedback) AS feedback,
		(SELECT count(*) FROM comments) AS comments,
		(SELECT count(*) FROM attachments) AS attachments,
		(SELECT count(*) FROM audit_events WHERE action NOT IN ('auth.login_failed', 'session.reuse_detected')) AS audit,
		(SELECT count(*) FROM build_events) AS events`).Scan(&fp).Error
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	files, err := os.ReadDir(filepath.Join(fz.e.store.DataDir, "attachments"))
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	fp.Files = len(files)
	return fp
}

// checkAnswer holds every answer to the common properties: no 5xx, errors in
// the envelope with a code that goes with the status, JSON bodies well formed.
func checkAnswer(t *testing.T, r resp, what string) {
	t.Helper()
	if r.Status >= 500 {
		t.Fatalf("%s: status %d: %.500s", what, r.Status, r.Body)
	}
	if r.Status >= 400 {
		checkEnvelope(t, r, what)
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && len(r.Body) > 0 && !json.Valid(r.Body) {
		t.Errorf("%s: status %d with a malformed JSON body: %.300q", what, r.Status, r.Body)
	}
}

// checkNothingStored fails when a 4xx answer left a trace.
func checkNothingStored(t *testing.T, r resp, before, after fingerprint, what string) {
	t.Helper()
	if r.Status >= 400 && before != after {
		t.Errorf("%s: status %d, yet something was stored:\nbefore %+v\nafter  %+v\n%.300s", what, r.Status, before, after, r.Body)
	}
}

// validHeaderValue tells a value net/http would let through in a header.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// fuzzRoute is one route taking a JSON body, called by someone allowed to.
type fuzzRoute struct {
	key  string // "METHOD /path" as in the matrix
	as   func(fz *fuzzEnv) *actor
	path func(fz *fuzzEnv) string
}

func asNobody(*fuzzEnv) *actor             { return nil }
func asFuzzAdmin(fz *fuzzEnv) *actor       { return fz.e.admin }
func asFuzzTester(fz *fuzzEnv) *actor      { return fz.w.tester }
func fixed(p string) func(*fuzzEnv) string { return func(*fuzzEnv) string { return p } }

// jsonRoutes is every route that reads a JSON body. Routes whose success
// would disturb the fixtures aim at scratch users, products and builds.
var jsonRoutes = []fuzzRoute{
	{"POST /api/v1/auth/login", asNobody, fixed("/api/v1/auth/login")},
	{"POST /api/v1/auth/refresh", asNobody, fixed("/api/v1/auth/refresh")},
	{"POST /api/v1/auth/logout", asNobody, fixed("/api/v1/auth/logout")},
	{"POST /api/v1/invites/redeem", asNobody, fixed("/api/v1/invites/redeem")},
	{"POST /api/v1/me/password", func(fz *fuzzEnv) *actor { return fz.pwActor }, fixed("/api/v1/me/password")},
	{"POST /api/v1/users", asFuzzAdmin, fixed("/api/v1/users")},
	{"PATCH /api/v1/users/:id", asFuzzAdmin, func(fz *fuzzEnv) string { return fmt.Sprintf("/api/v1/users/%d", fz.scratchUser) }},
	{"POST /api/v1/products", asFuzzAdmin, fixed("/api/v1/products")},
	{"POST /api/v1/products/:id/builds", asFuzzAdmin, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/products/%d/builds", fz.scratchProduct)
	}},
	{"POST /api/v1/products/:id/rollback", asFuzzAdmin, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/products/%d/rollback", fz.scratchProduct)
	}},
	{"POST /api/v1/products/:id/webhooks", asFuzzAdmin, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/products/%d/webhooks", fz.scratchProduct)
	}},
	{"PATCH /api/v1/builds/:id", asFuzzAdmin, func(fz *fuzzEnv) string { return fmt.Sprintf("/api/v1/builds/%d", fz.scratchBuild) }},
	{"POST /api/v1/builds/:id/changes", asFuzzAdmin, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/builds/%d/changes", fz.scratchBuild)
	}},
	{"POST /api/v1/builds/:id/invites", asFuzzAdmin, func(fz *fuzzEnv) string { return fmt.Sprintf("/api/v1/builds/%d/invites", fz.w.bid) }},
	{"PUT /api/v1/changes/:id/vote", asFuzzTester, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/changes/%d/vote", fz.w.changes[0])
	}},
	{"POST /api/v1/builds/:id/feedback", asFuzzTester, func(fz *fuzzEnv) string { return fmt.Sprintf("/api/v1/builds/%d/feedback", fz.w.bid) }},
	{"PATCH /api/v1/feedback/:id", asFuzzAdmin, func(fz *fuzzEnv) string { return fmt.Sprintf("/api/v1/feedback/%d", fz.fid) }},
	{"POST /api/v1/feedback/:id/comments", asFuzzTester, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/feedback/%d/comments", fz.fid)
	}},
	{"POST /api/v1/changes/:id/decision", asFuzzAdmin, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/changes/%d/decision", fz.scratchChange)
	}},
	{"POST /api/v1/builds/:id/promote", asFuzzAdmin, func(fz *fuzzEnv) string {
		return fmt.Sprintf("/api/v1/builds/%d/promote", fz.scratchBuild)
	}},
}

// pickJSONRoute finds a route by key; any other string picks one by hash,
// so mutated names still land on a route.
func pickJSONRoute(key string) fuzzRoute {
	for _, r := range jsonRoutes {
		if r.key == key {
			return r
		}
	}
	return jsonRoutes[crc32.ChecksumIEEE([]byte(key))%uint32(len(jsonRoutes))]
}

// FuzzJSONBody sends fuzzed bytes as the JSON body of every route that
// reads one (route picked by its matrix key), with a fuzzed Idempotency-Key.
func FuzzJSONBody(f *testing.F) {
	covered := map[string]bool{}
	for _, r := range jsonRoutes {
		covered[r.key] = true
		if _, ok := matrix[r.key]; !ok {
			f.Errorf("FuzzJSONBody aims at %s, which the matrix does not know", r.key)
		}
	}
	for key, row := range matrix {
		if row.body != nil && !covered[key] {
			f.Errorf("%s reads a JSON body: add it to jsonRoutes in fuzz_test.go", key)
		}
	}
	fz := newFuzzEnv(f, nil)
	f.Fuzz(func(t *testing.T, route string, body []byte, key string) {
		e := fz.begin(t)
		rt := pickJSONRoute(route)
		method, _, _ := strings.Cut(rt.key, " ")
		req := httptest.NewRequest(method, rt.path(fz), bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if a := rt.as(fz); a != nil {
			req.Header.Set("Authorization", "Bearer "+a.Token)
		}
		if key != "" && validHeaderValue(key) {
			req.Header.Set("Idempotency-Key", key)
		}
		before := fz.fingerprint(t)
		r := e.sendRaw(req)
		what := fmt.Sprintf("%s with body %.200q", rt.key, body)
		checkAnswer(t, r, what)
		checkNothingStored(t, r, before, fz.fingerprint(t), what)
	})
}

// uploadTarget is a feedback item of the fuzz tester with room for one more
// attachment (a new item every few successful uploads).
func (fz *fuzzEnv) uploadTarget(state *uploadState) int64 {
	if state.fid == 0 || state.uploads >= 5 {
		state.fid = fz.e.bug(fz.w.tester, fz.w.bid, nil, "low", fmt.Sprintf("Upload target %d", fz.e.next()))
		state.uploads = 0
	}
	return state.fid
}

type uploadState struct {
	fid     int64
	uploads int
}

// checkUpload checks one upload answer: a 201 stored exactly one image that
// reads back byte for byte (when the file bytes are known); anything else
// stored nothing.
func (fz *fuzzEnv) checkUpload(t *testing.T, r resp, file []byte, before fingerprint, state *uploadState, what string) {
	t.Helper()
	checkAnswer(t, r, what)
	after := fz.fingerprint(t)
	if r.Status != http.StatusCreated {
		checkNothingStored(t, r, before, after, what)
		return
	}
	state.uploads++
	if after.Attachments != before.Attachments+1 || after.Files != before.Files+1 {
		t.Errorf("%s: 201 but attachments %d→%d, files %d→%d", what, before.Attachments, after.Attachments, before.Files, after.Files)
	}
	var att struct {
		ID            int64  `json:"id"`
		ContentType   string `json:"content_type"`
		Size          int64  `json:"size"`
		Width, Height int
	}
	if err := json.Unmarshal(r.Body, &att); err != nil {
		t.Fatalf("%s: 201 body: %v", what, err)
	}
	switch att.ContentType {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		t.Errorf("%s: stored as %q", what, att.ContentType)
	}
	if att.Width <= 0 || att.Height <= 0 || int64(att.Width)*int64(att.Height) > 40_000_000 {
		t.Errorf("%s: stored a %d×%d image", what, att.Width, att.Height)
	}
	got := fz.e.must(200, "GET", fmt.Sprintf("/api/v1/attachments/%d", att.ID), fz.w.tester.Token, nil)
	if ct := got.Header.Get("Content-Type"); ct != att.ContentType {
		t.Errorf("%s: served as %q, stored as %q", what, ct, att.ContentType)
	}
	if int64(len(got.Body)) != att.Size || (file != nil && !bytes.Equal(got.Body, file)) {
		t.Errorf("%s: served %d bytes, stored size %d, uploaded %d", what, len(got.Body), att.Size, len(file))
	}
}

// FuzzUploadFile sends fuzzed bytes as the uploaded file of a well-formed
// multipart request.
func FuzzUploadFile(f *testing.F) {
	fz := newFuzzEnv(f, nil)
	state := &uploadState{}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := fz.begin(t)
		fid := fz.uploadTarget(state)
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile("file", "shot.png")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		req := newRequest("POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), &buf, fz.w.tester.Token)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		before := fz.fingerprint(t)
		r := e.sendRaw(req)
		fz.checkUpload(t, r, data, before, state, fmt.Sprintf("upload of %d bytes %.64q", len(data), data))
	})
}

// FuzzUploadMultipart sends fuzzed bytes as the whole multipart body, with
// a fuzzed Content-Type.
func FuzzUploadMultipart(f *testing.F) {
	fz := newFuzzEnv(f, nil)
	state := &uploadState{}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		e := fz.begin(t)
		fid := fz.uploadTarget(state)
		req := newRequest("POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), bytes.NewReader(body), fz.w.tester.Token)
		if validHeaderValue(contentType) {
			req.Header.Set("Content-Type", contentType)
		}
		before := fz.fingerprint(t)
		r := e.sendRaw(req)
		fz.checkUpload(t, r, nil, before, state, fmt.Sprintf("multipart %q body %.200q", contentType, body))
	})
}

// listTargets are the paginated lists; the first takes every filter.
var listTargets = []string{"feedback", "builds", "products", "users", "audit", "invites", "testers"}

func (fz *fuzzEnv) listPath(which string) string {
	switch which {
	case "feedback", "invites", "testers":
		return fmt.Sprintf("/api/v1/builds/%d/%s", fz.w.bid, which)
	}
	return "/api/v1/" + which
}

// FuzzListQuery fuzzes the cursor, limit and filters of the lists, plus raw
// query text after them, as staff or as the granted tester.
func FuzzListQuery(f *testing.F) {
	fz := newFuzzEnv(f, func(fz *fuzzEnv) {
		e, w := fz.e, fz.w
		other := e.tester(w.bid)
		for i, title := range []string{"Crash on start", "Door stuck", "50% off_by one", `Quote "it" \ slash`, "Émoji 🎮 crash"} {
			e.bug(w.tester, w.bid, &w.changes[i%2], []string{"low", "medium", "high", "critical"}[i%4], title)
			e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), other.Token,
				map[string]any{"kind": []string{"suggestion", "praise", "other"}[i%3], "title": "Idea " + title, "body": "body of " + title})
		}
		e.must(200, "PATCH", fmt.Sprintf("/api/v1/feedback/%d", fz.fid), e.admin.Token, map[string]string{"status": "acknowledged"})
	})
	f.Fuzz(func(t *testing.T, which uint8, asTester bool, cursor, limit, q, kind, status, changeID, extra string) {
		e := fz.begin(t)
		target := listTargets[int(which)%len(listTargets)]
		v := url.Values{}
		for k, s := range map[string]string{"cursor": cursor, "limit": limit, "q": q, "kind": kind, "status": status, "change_id": changeID} {
			if s != "" {
				v.Set(k, s)
			}
		}
		raw := v.Encode()
		if extra != "" {
			raw += "&" + extra
		}
		caller := e.admin
		if asTester {
			caller = fz.w.tester
		}
		before := fz.fingerprint(t)
		r, query := fz.list(target, raw, caller)
		what := fmt.Sprintf("GET %s?%s as %s", fz.listPath(target), raw, caller.Role)
		checkAnswer(t, r, what)
		if after := fz.fingerprint(t); after != before {
			t.Errorf("%s: a read stored something:\nbefore %+v\nafter  %+v", what, before, after)
		}
		if r.Status != 200 {
			return
		}
		limitWant := store.DefaultLimit
		if l := query.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 || n > store.MaxLimit {
				t.Fatalf("%s: limit %q accepted", what, l)
			}
			limitWant = n
		}
		items := r.Items(t)
		if len(items) > limitWant {
			t.Errorf("%s: %d items, limit %d", what, len(items), limitWant)
		}
		if target == "feedback" {
			checkFeedbackFilters(t, what, items, query, caller)
		}
		if next := nextCursor(t, r); next != "" {
			query.Set("cursor", next)
			r2, _ := fz.list(target, query.Encode(), caller)
			if r2.Status != 200 {
				t.Fatalf("%s: following next_cursor %q: %d %.300s", what, next, r2.Status, r2.Body)
			}
		}
	})
}

// list sends one list request with a raw query, and returns the query as
// the server parses it.
func (fz *fuzzEnv) list(target, rawQuery string, caller *actor) (resp, url.Values) {
	req := newRequest("GET", fz.listPath(target), nil, caller.Token)
	req.URL.RawQuery = rawQuery
	return fz.e.sendRaw(req), req.URL.Query()
}

// checkFeedbackFilters checks that a feedback page holds only what its
// filters ask for, newest first, and only the tester's own items for a
// tester; a search only finds items with a word starting with its first word.
func checkFeedbackFilters(t *testing.T, what string, items []map[string]any, query url.Values, caller *actor) {
	t.Helper()
	last := int64(1 << 62)
	word := firstSearchWord(query.Get("q"))
	for _, it := range items {
		id := int64(it["id"].(float64))
		if id >= last {
			t.Errorf("%s: ids not newest first at %d", what, id)
		}
		last = id
		for _, k := range []string{"kind", "status", "severity"} {
			if want := query.Get(k); want != "" && it[k] != want {
				t.Errorf("%s: item %d has %s %v", what, id, k, it[k])
			}
		}
		if want, err := strconv.ParseInt(query.Get("change_id"), 10, 64); err == nil && it["change_id"] != float64(want) {
			t.Errorf("%s: item %d has change_id %v", what, id, it["change_id"])
		}
		if caller.Role == models.RoleTester && int64(it["tester_id"].(float64)) != caller.ID {
			t.Errorf("%s: the tester sees item %d of tester %v", what, id, it["tester_id"])
		}
		title, _ := it["title"].(string)
		body, _ := it["body"].(string)
		if word != "" && isASCII(title+body) && !hasSearchWord(title+" "+body, word) {
			t.Errorf("%s: item %d (%q) has no word %q (or starting with it, when it has %d letters or more)", what, id, title, word, store.SearchPrefixMin)
		}
	}
}

// firstSearchWord is the first word of a search, split as the full-text
// index splits text; "" when it is not plain ASCII (the indexes fold
// accents and case differently on SQLite and PostgreSQL, so only ASCII
// words have one right answer).
func firstSearchWord(q string) string {
	words := strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 || !isASCII(words[0]) {
		return ""
	}
	return words[0]
}

// hasSearchWord tells whether a word of text is word, or starts with it
// when word is long enough to match as a prefix.
func hasSearchWord(text, word string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if w == word || len(word) >= store.SearchPrefixMin && strings.HasPrefix(w, word) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// exportState rotates the build the export fuzzer files into, so each
// export stays small.
type exportState struct {
	bid    int64
	tester *actor
	items  int
}

// FuzzExportCSV files feedback with a fuzzed title and body, exports the
// build as CSV and parses it back: the cells hold the stored text exactly,
// with a leading ' only where a spreadsheet would see a formula.
func FuzzExportCSV(f *testing.F) {
	fz := newFuzzEnv(f, nil)
	state := &exportState{}
	f.Fuzz(func(t *testing.T, title, body string) {
		e := fz.begin(t)
		if state.bid == 0 || state.items >= 40 {
			state.bid, _ = e.build(0)
			state.tester = e.tester(state.bid)
			state.items = 0
		}
		before := fz.fingerprint(t)
		r := e.feedback(state.tester, state.bid, map[string]any{"kind": "suggestion", "title": title, "body": body})
		what := fmt.Sprintf("feedback titled %q with body %.200q", title, body)
		checkAnswer(t, r, what)
		if r.Status != http.StatusCreated {
			checkNothingStored(t, r, before, fz.fingerprint(t), what)
			return
		}
		state.items++
		fid := id(t, r)
		// What the server received: JSON carries valid UTF-8 only.
		var sent struct{ Title, Body string }
		j, _ := json.Marshal(map[string]string{"title": title, "body": body})
		if err := json.Unmarshal(j, &sent); err != nil {
			t.Fatal(err)
		}
		x := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv", state.bid), e.admin.Token, nil)
		rd := csv.NewReader(bytes.NewReader(x.Body))
		records, err := rd.ReadAll()
		if err != nil {
			t.Fatalf("%s: the export does not parse: %v\n%.1000q", what, err, x.Body)
		}
		if len(records) != state.items+1 {
			t.Fatalf("%s: %d records for %d items", what, len(records), state.items)
		}
		col := map[string]int{}
		for i, h := range records[0] {
			col[h] = i
		}
		var row []string
		for _, rec := range records[1:] {
			if rec[col["id"]] == strconv.FormatInt(fid, 10) {
				row = rec
			}
		}
		if row == nil {
			t.Fatalf("%s: item %d missing from the export", what, fid)
		}
		for _, c := range []struct{ name, stored string }{{"title", strings.TrimSpace(sent.Title)}, {"body", sent.Body}} {
			got := row[col[c.name]]
			if want := csvExpect(c.stored); got != want {
				t.Errorf("%s: %s cell %q, want %q", what, c.name, got, want)
			}
		}
	})
}

// csvExpect is a stored text as encoding/csv reads it back from the export:
// a leading ' when the text starts like a formula, and CRLF inside a cell
// read as LF (encoding/csv folds it).
func csvExpect(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		s = "'" + s
	}
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// FuzzAuthorization sends a fuzzed Authorization header. Only a token that
// passes every rule of the contract (HS256 with the server's key, exp, iss,
// aud) for a live session of an enabled user may get in, and only as that user.
func FuzzAuthorization(f *testing.F) {
	fz := newFuzzEnv(f, nil)
	f.Fuzz(func(t *testing.T, header string) {
		e := fz.begin(t)
		if !validHeaderValue(header) {
			return // net/http refuses such a header before any handler
		}
		req := newRequest("GET", "/api/v1/me", nil, "")
		req.Header.Set("Authorization", header)
		r := e.sendRaw(req)
		what := fmt.Sprintf("Authorization %.300q", header)
		checkAnswer(t, r, what)
		if r.Status == 200 {
			checkAdmitted(t, fz, header, r, what)
			return
		}
		if r.Status != 401 {
			t.Errorf("%s: status %d, want 200 or 401: %s", what, r.Status, r.Body)
		}
	})
}

// checkAdmitted checks a 200 against the contract's token rules, verified
// here independently of the server.
func checkAdmitted(t *testing.T, fz *fuzzEnv, header string, r resp, what string) {
	t.Helper()
	_, token, _ := strings.Cut(header, " ")
	var cl jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &cl, func(*jwt.Token) (any, error) { return testKey, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer("playgate"),
		jwt.WithAudience("playgate-api"), jwt.WithTimeFunc(fz.e.store.Now))
	if err != nil {
		t.Fatalf("%s: admitted a token the contract refuses: %v", what, err)
	}
	me := r.JSON(t)
	if fmt.Sprint(me["id"]) != cl.Subject {
		t.Errorf("%s: token of user %s admitted as user %v", what, cl.Subject, me["id"])
	}
	for _, a := range []*actor{fz.w.disabledAdm, fz.w.disabledTstr} {
		if fmt.Sprint(a.ID) == cl.Subject {
			t.Errorf("%s: a disabled user's token was admitted", what)
		}
	}
}
