package handlers_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// attachmentFiles counts the files under the data folder's attachments.
func (e *env) attachmentFiles() int {
	e.t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.store.DataDir, "attachments"))
	if err != nil {
		e.t.Fatal(err)
	}
	return len(entries)
}

func TestUploadAttachment(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	fid := e.bug(w.tester, w.bid, nil, "low", "Texture glitch")
	img := pngBytes(t, 3, 2)

	// Only the item's tester uploads; staff are refused, other testers see nothing.
	for _, who := range everyone {
		want := map[string]int{asAdmin: 403, asReleaseManager: 403, asProductOwner: 403, asTester: 201, asOtherTester: 404,
			asDisabledAdmin: 401, asDisabledTester: 401, asAnonymous: 401}[who]
		r := e.upload(w.token(e, who), fid, "shot.png", img)
		if r.Status != want || (want >= 400 && r.Code() != codeFor(want)) {
			t.Errorf("upload as %s: %d %s, want %d", who, r.Status, r.Body, want)
		}
	}
	peer := e.tester(w.bid)
	wantError(t, e.upload(peer.Token, fid, "shot.png", img), 404, "not_found", "")
	wantError(t, e.upload(w.tester.Token, 999999, "shot.png", img), 404, "not_found", "")

	cases := []struct {
		name, file, ctype string
		data              []byte
		width, height     float64
	}{
		{"png", "shot.png", "image/png", img, 3, 2},
		{"png named .txt", "x.txt", "image/png", pngBytes(t, 5, 4), 5, 4},
		{"jpeg named .png", "photo.png", "image/jpeg", jpegBytes(t, 7, 3), 7, 3},
		{"gif", "anim.gif", "image/gif", gifBytes(t, 2, 9), 2, 9},
		{"webp", "shot.webp", "image/webp", webpBytes(640, 360), 640, 360},
	}
	for _, c := range cases {
		r := e.upload(w.tester.Token, fid, c.file, c.data)
		if r.Status != 201 {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
			continue
		}
		m := r.JSON(t)
		if m["content_type"] != c.ctype || m["size"] != float64(len(c.data)) || m["width"] != c.width || m["height"] != c.height || m["id"] == nil {
			t.Errorf("%s: %s", c.name, r.Body)
		}
		// It is served back as stored, with the sniffed type and nosniff.
		g := e.do("GET", fmt.Sprintf("/api/v1/attachments/%d", int64(m["id"].(float64))), w.tester.Token, nil)
		if g.Status != 200 || !bytes.Equal(g.Body, c.data) {
			t.Errorf("%s: GET %d, %d bytes", c.name, g.Status, len(g.Body))
		}
		if g.Header.Get("Content-Type") != c.ctype || g.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: served as %q, nosniff %q", c.name, g.Header.Get("Content-Type"), g.Header.Get("X-Content-Type-Options"))
		}
	}

	refused := []struct {
		name   string
		file   string
		data   []byte
		status int
	}{
		{"text named .png", "x.png", []byte("just some text, not an image"), 415},
		{"html named .png", "x.png", []byte("<html><script>alert(1)</script></html>"), 415},
		{"svg", "x.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 415},
		{"png signature with a broken header", "x.png", []byte("\x89PNG\r\n\x1a\nbroken"), 415},
		{"empty file", "x.png", nil, 400},
	}
	files := e.attachmentFiles()
	for _, c := range refused {
		r := e.upload(w.tester.Token, fid, c.file, c.data)
		if r.Status != c.status || r.Code() != codeFor(c.status) {
			t.Errorf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.status)
		}
	}
	if n := e.attachmentFiles(); n != files {
		t.Errorf("refused uploads left %d files behind", n-files)
	}

	// A JSON body, or a form without the field "file".
	wantError(t, e.do("POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), w.tester.Token, map[string]string{"file": "x"}), 415, "unsupported_media_type", "")
	var buf bytes.Buffer
	buf.WriteString("--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhello\r\n--b--\r\n")
	req := newRequest("POST", fmt.Sprintf("/api/v1/feedback/%d/attachments", fid), &buf, w.tester.Token)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	wantError(t, e.sendRaw(req), 400, "validation_failed", "file")

	// The item lists what was attached.
	m := e.must(200, "GET", fmt.Sprintf("/api/v1/feedback/%d", fid), w.tester.Token, nil).JSON(t)
	if atts, _ := m["attachments"].([]any); len(atts) != 1+len(cases) || m["attachment_count"] != float64(1+len(cases)) {
		t.Errorf("attachments %d, count %v", len(atts), m["attachment_count"])
	}
	if !contains(e.auditActions(fmt.Sprintf("&subject_type=feedback&subject_id=%d", fid)), "attachment.created") {
		t.Error("no attachment.created event")
	}
}

func TestAttachmentLimits(t *testing.T) {
	e := newEnv(t)
	bid, _ := e.build(0)
	tt := e.tester(bid)
	fid := e.bug(tt, bid, nil, "low", "Big screenshots")

	// An image bomb: a tiny PNG whose header claims 20000×20000 pixels is
	// refused from the header, without decoding (1.6 GB) it.
	bomb := bombPNG(20000, 20000)
	if len(bomb) > 100 {
		t.Fatalf("the bomb is %d bytes", len(bomb))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := e.upload(tt.Token, fid, "bomb.png", bomb)
	runtime.ReadMemStats(&after)
	wantError(t, r, 413, "too_large", "")
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("refusing the bomb allocated %d MiB", grew>>20)
	}
	// 40 megapixels is the limit: 8000×5000 passes the header check.
	if r := e.upload(tt.Token, fid, "edge.png", bombPNG(8000, 5000)); r.Status == 413 {
		t.Errorf("an image of exactly 40 megapixels was refused: %s", r.Body)
	}
	wantError(t, e.upload(tt.Token, fid, "wide.webp", webpBytes(16000, 2600)), 413, "too_large", "")

	// Over 10 MiB: 413 whatever the content.
	big := append(pngBytes(t, 1, 1), make([]byte, 10<<20)...)
	wantError(t, e.upload(tt.Token, fid, "big.png", big), 413, "too_large", "")
	huge := make([]byte, 12<<20)
	copy(huge, pngBytes(t, 1, 1))
	wantError(t, e.upload(tt.Token, fid, "huge.png", huge), 413, "too_large", "")

	// At most 10 attachments per item.
	fid2 := e.bug(tt, bid, nil, "low", "Many screenshots")
	for i := 0; i < 10; i++ {
		e.upload(tt.Token, fid2, fmt.Sprintf("s%d.png", i), pngBytes(t, 1+i, 1))
	}
	if n := e.count("attachments", "feedback_id = ?", fid2); n != 10 {
		t.Fatalf("%d attachments stored, want 10", n)
	}
	files := e.attachmentFiles()
	wantError(t, e.upload(tt.Token, fid2, "eleven.png", pngBytes(t, 2, 2)), 409, "conflict", "")
	if n := e.count("attachments", "feedback_id = ?", fid2); n != 10 {
		t.Errorf("%d attachments after the 11th, want 10", n)
	}
	if n := e.attachmentFiles(); n != files {
		t.Errorf("the refused 11th left a file behind")
	}

	// Racing uploads cannot go past the limit either.
	fid3 := e.bug(tt, bid, nil, "low", "Racing screenshots")
	var wg sync.WaitGroup
	statuses := make([]int, 14)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = e.upload(tt.Token, fid3, "r.png", img1x1).Status
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 201:
			ok++
		case 409:
		default:
			t.Errorf("racing upload: status %d", s)
		}
	}
	if n := e.count("attachments", "feedback_id = ?", fid3); ok != 10 || n != 10 {
		t.Errorf("racing uploads: %d accepted, %d stored, want 10 (statuses %v)", ok, n, statuses)
	}
	if n := e.intCol("feedback", "attachment_count", fid3); n != 10 {
		t.Errorf("attachment_count %d, want 10", n)
	}
}

var img1x1 = pngBytes(nil, 1, 1)

func TestGetAttachment(t *testing.T) {
	e := newEnv(t)
	w := e.world(0)
	fid := e.bug(w.tester, w.bid, nil, "low", "Sky is purple")
	img := pngBytes(t, 4, 4)
	aid := id(t, e.upload(w.tester.Token, fid, "sky.png", img))
	path := fmt.Sprintf("/api/v1/attachments/%d", aid)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(path), want: roles(200, 200, 200, 200, 404)})

	peer := e.tester(w.bid)
	hidden := e.do("GET", path, peer.Token, nil)
	missing := e.do("GET", "/api/v1/attachments/999999", peer.Token, nil)
	wantError(t, hidden, 404, "not_found", "")
	if string(hidden.Body) != string(missing.Body) {
		t.Errorf("hidden %s, missing %s", hidden.Body, missing.Body)
	}
	r := e.must(200, "GET", path, e.admin.Token, nil)
	if !bytes.Equal(r.Body, img) || r.Header.Get("Content-Type") != "image/png" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("served %d bytes as %q", len(r.Body), r.Header.Get("Content-Type"))
	}
	if cd := r.Header.Get("Content-Disposition"); cd == "" || bytes.Contains([]byte(cd), []byte("sky")) {
		t.Errorf("Content-Disposition %q: want one that does not echo the uploaded name", cd)
	}
	wantError(t, e.do("GET", "/api/v1/attachments/x", e.admin.Token, nil), 404, "not_found", "")
}
