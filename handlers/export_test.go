package handlers_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"playgate/models"
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
