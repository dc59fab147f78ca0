package handlers_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"playgate/models"
	"playgate/store"
)

func TestExportCSVEscaping(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	nasty := []struct{ title, body string }{
		{"=HYPERLINK(\"http://evil\",\"x\")", "plain"},
		{"+1 more crash", "-2 lives, @admin please"},
		{"Tabbed body", "\tline one\nline two, with \"quotes\""},
		{"Ünïcödé 🎮 title", "\r carriage"},
	}
	for _, n := range nasty {
		e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, map[string]any{"kind": "suggestion", "title": n.title, "body": n.body})
	}
	r := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv", w.bid), e.admin.Token, nil)
	if ct := r.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers: %v", r.Header)
	}
	if !strings.Contains(string(r.Body), "\r\n") {
		t.Fatal("RFC 4180 wants CRLF line ends")
	}
	if !strings.Contains(string(r.Body), "\"'\r carriage\"") {
		t.Fatalf("a body starting with CR is not neutralised: %q", r.Body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	if len(recs) != 1+len(nasty) || recs[0][5] != "title" || recs[0][6] != "body" {
		t.Fatalf("records: %q", recs)
	}
	want := map[string]string{ // by title cell → body cell
		"'=HYPERLINK(\"http://evil\",\"x\")": "plain",
		"'+1 more crash":                     "'-2 lives, @admin please",
		"Tabbed body":                        "'\tline one\nline two, with \"quotes\"",
		"Ünïcödé 🎮 title":                    "'\r carriage",
	}
	for _, rec := range recs[1:] {
		body, ok := want[rec[5]]
		if !ok || rec[6] != body {
			t.Errorf("row title %q body %q", rec[5], rec[6])
		}
	}
	// JSON lines for scripts: the raw text, one object per line.
	j := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv?format=json", w.bid), e.admin.Token, nil)
	lines := strings.Split(strings.TrimSpace(string(j.Body)), "\n")
	var first map[string]any
	if len(lines) != len(nasty) || json.Unmarshal([]byte(lines[0]), &first) != nil || first["title"] != nasty[0].title {
		t.Fatalf("json lines: %s", j.Body)
	}
	wantError(t, e.do("GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv?format=xml", w.bid), e.admin.Token, nil), 400, "validation_failed", "format")
	e.checkRoles(t, w, roleCase{method: "GET", path: static(fmt.Sprintf("/api/v1/builds/%d/feedback.csv", w.bid)), want: roles(200, 200, 200, 403, 403)})
}

// The export streams: 100,000 rows go out while the heap stays small.
func TestExportStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 rows")
	}
	e := newEnv(t)
	bid, _ := e.build(0)
	tt := e.tester(bid)
	const n = 100_000
	long := strings.Repeat("words in a long body ", 10)
	if err := e.store.SeedFeedback(context.Background(), bid, tt.ID, n, func(i int, fb *models.Feedback) { fb.Body = long }); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}
	}()
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/builds/%d/feedback.csv", srv.URL, bid), nil)
	req.Header.Set("Authorization", "Bearer "+e.admin.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rows, size := 0, 0
	sc := bufio.NewReader(res.Body)
	for {
		line, err := sc.ReadString('\n')
		size += len(line)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
	}
	res.Body.Close()
	close(stop)
	if rows != n+1 {
		t.Fatalf("%d lines, want %d", rows, n+1)
	}
	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("exported %d rows, %d MiB; heap grew by at most %d MiB", n, size>>20, growth>>20)
	if size < 20<<20 {
		t.Fatalf("export only %d bytes: the memory check would prove nothing", size)
	}
	if growth > 16<<20 {
		t.Fatalf("heap grew by %d MiB while streaming %d MiB: the export is buffered", growth>>20, size>>20)
	}
}

// The export reads and encodes rows its own way; what it sends must stay
// byte for byte what a plain join, the driver's own conversions and a
// []string encoder made of the same rows, in CSV and JSON lines: texts that
// need quotes or neutralising, NULLs, and timestamps in every shape the
// database can hold (fractions, zero nanoseconds, offsets other than UTC).
func TestExportMatchesReference(t *testing.T) {
	e := newEnv(t)
	w := e.world(2)
	e.setClock(time.Now().Truncate(time.Second))
	e.bug(w.tester, w.bid, &w.changes[0], "high", "Whole seconds")
	e.setClock(time.Now())
	var ids []int64
	for i := 0; i < 30; i++ {
		if i%3 == 0 {
			ids = append(ids, e.bug(w.tester, w.bid, &w.changes[i%2], models.Severities[i%4], fmt.Sprintf("Bug %d", i)))
			continue
		}
		r := e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/feedback", w.bid), w.tester.Token, map[string]any{"kind": "suggestion", "title": fmt.Sprintf("Idea %d", i)})
		ids = append(ids, int64(r.JSON(t)["id"].(float64)))
	}
	e.bug(w.other, w.otherBid, nil, "low", "Not in this build")

	db, q := exportDB(t, e)
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q(query), args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	texts := []string{"", " lead", "trail ", "=1+1", "+x", "-", "@a", "\tx", "\rx", "'", `"q"`, "a,b", "line\nbreak",
		"cr\r\nlf", "= spaced ", "Ünïcödé 🎮", "-trailing ", " ", `"`, ",", "plain", "5:trap", "0:", "--", "12:34:-"}
	times := []string{"2026-03-04 05:06:07+00:00", "2026-03-04 05:06:07.123456789+00:00", "2026-03-04 05:06:07.9999999+00:00",
		"2026-03-04 23:59:59.5-07:00", "2026-03-04 05:06:07.1+05:30", "2024-02-29 00:00:00.000001+00:00", "1999-12-31 23:59:59.999+00:00"}
	if e.store.Dialect() == store.SQLite {
		// What only SQLite keeps as written: a NUL, and timestamps in every
		// shape the driver reads.
		texts = append(texts, "nul\x00inside")
		times = append(times, "2026-03-04T05:06:07Z", "2026-03-04 05:06:07", "2026-03-04 05:06:07.000000000+00:00", "2026-03-04")
	}
	for i, id := range ids {
		at := func(k int) any { return times[(i+k)%len(times)] }
		var reply any
		if i%3 != 0 {
			reply = at(1)
		}
		exec(`UPDATE feedback SET title = ?, body = ?, platform_os = ?, platform_device = ?, platform_client_version = ?,
			created_at = ?, updated_at = ?, last_staff_reply_at = ? WHERE id = ?`,
			texts[i%len(texts)], texts[(i+3)%len(texts)], texts[(i+5)%len(texts)], texts[(i+7)%len(texts)], texts[(i+11)%len(texts)],
			at(0), at(2), reply, id)
	}
	exec(`UPDATE users SET name = ? WHERE id = ?`, `=Noor, "N" `, w.tester.ID)
	exec(`UPDATE changes SET "key" = ? WHERE id = ?`, "-PG,1 ", w.changes[1])
	// Names and keys the export cannot know from the build: a tester with
	// no grant on it and a change of another build.
	exec(`UPDATE users SET name = ? WHERE id = ?`, "Grantless Gil", w.other.ID)
	exec(`UPDATE feedback SET tester_id = ?, change_id = ? WHERE id = ?`, w.other.ID, w.otherChanges[0], ids[4])

	gotCSV := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv", w.bid), e.admin.Token, nil).Body
	gotJSON := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d/feedback.csv?format=json", w.bid), e.admin.Token, nil).Body
	wantCSV, wantJSON := referenceExport(t, db, q, w.bid)
	sameLines(t, "CSV", gotCSV, wantCSV, "\r\n")
	sameLines(t, "JSON lines", gotJSON, wantJSON, "\n")
}

// exportDB is the database under e for raw statements, and q, which turns
// a statement's ? into PostgreSQL's $1, $2, … when needed.
func exportDB(t *testing.T, e *env) (*sql.DB, func(string) string) {
	t.Helper()
	pools := e.store.Pools()
	db := pools["writer"]
	if db == nil {
		db = pools["pool"]
	}
	if db == nil {
		t.Fatalf("no writer pool: %v", pools)
	}
	q := func(s string) string { return s }
	if e.store.Dialect() == store.Postgres {
		q = store.DollarPlaceholders
	}
	return db, q
}

// referenceExport is the export of a build as the plain join read into
// store.ExportRow and the []string encoder made it before the fast path.
func referenceExport(t *testing.T, db *sql.DB, q func(string) string, bid int64) (csvBody, jsonBody []byte) {
	t.Helper()
	rows, err := db.Query(q(`SELECT f.id, f.build_id, f.change_id, f.tester_id, u.name, f.kind, f.severity, f.title, f.body,
		f.platform_os, f.platform_device, f.platform_client_version, f.status, f.duplicate_of, f.duplicates,
		f.comment_count, f.attachment_count, f.last_staff_reply_at, f.created_at, f.updated_at, COALESCE(c."key", '')
		FROM feedback f JOIN users u ON u.id = f.tester_id LEFT JOIN changes c ON c.id = f.change_id
		WHERE f.build_id = ? ORDER BY f.id`), bid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	header := []string{"id", "created_at", "kind", "severity", "status", "title", "body", "change_id", "change_key",
		"tester_id", "tester_name", "platform_os", "platform_device", "platform_client_version", "duplicate_of",
		"comment_count", "attachment_count"}
	csvBody = referenceCSVRecord(nil, header)
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	for rows.Next() {
		var r store.ExportRow
		if err := rows.Scan(&r.ID, &r.BuildID, &r.ChangeID, &r.TesterID, &r.TesterName, &r.Kind, &r.Severity, &r.Title, &r.Body,
			&r.Platform.OS, &r.Platform.Device, &r.Platform.ClientVersion, &r.Status, &r.DuplicateOf, &r.Duplicates,
			&r.CommentCount, &r.AttachmentCount, &r.LastStaffReplyAt, &r.CreatedAt, &r.UpdatedAt, &r.ChangeKey); err != nil {
			t.Fatal(err)
		}
		cell := func(s string) string {
			if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
				return "'" + s
			}
			return s
		}
		optInt := func(p *int64) string {
			if p == nil {
				return ""
			}
			return strconv.FormatInt(*p, 10)
		}
		sev := ""
		if r.Severity != nil {
			sev = *r.Severity
		}
		csvBody = referenceCSVRecord(csvBody, []string{strconv.FormatInt(r.ID, 10), r.CreatedAt.UTC().Format(time.RFC3339), r.Kind, sev, r.Status,
			cell(r.Title), cell(r.Body), optInt(r.ChangeID), cell(r.ChangeKey), strconv.FormatInt(r.TesterID, 10),
			cell(r.TesterName), cell(r.Platform.OS), cell(r.Platform.Device), cell(r.Platform.ClientVersion),
			optInt(r.DuplicateOf), strconv.Itoa(r.CommentCount), strconv.Itoa(r.AttachmentCount)})
		if err := enc.Encode(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return csvBody, js.Bytes()
}

// referenceCSVRecord appends one RFC 4180 record as the export always has.
func referenceCSVRecord(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		if !strings.ContainsAny(f, "\",\r\n") && (f == "" || (f[0] != ' ' && f[len(f)-1] != ' ')) {
			dst = append(dst, f...)
			continue
		}
		dst = append(dst, '"')
		dst = append(dst, strings.ReplaceAll(f, `"`, `""`)...)
		dst = append(dst, '"')
	}
	return append(dst, '\r', '\n')
}

// sameLines fails at the first record where got and want differ.
func sameLines(t *testing.T, what string, got, want []byte, sep string) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), sep), strings.Split(string(want), sep)
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			t.Fatalf("%s differs at record %d:\n got %q\nwant %q", what, i, g[i], w[i])
		}
	}
	t.Fatalf("%s: %d records, want %d", what, len(g), len(w))
}
