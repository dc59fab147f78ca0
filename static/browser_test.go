package static_test

// Browser tests of the web UI against the real server, one per journey of
// the UI issue. Each fails on any console error, uncaught exception, CSP
// violation or JavaScript dialog (see harness_test.go). Set
// PLAYGATE_SCREENSHOTS=DIR to save a PNG of every main page.

import (
	"fmt"
	"image/color"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var policyDefaults = map[string]any{"min_votes": 5, "revert_threshold": 0.3, "confidence": 0.95, "block_severity": "critical"}

// Journey 1: a tester redeems an invite link, sees the access details, votes
// on two changes, files a bug with an uploaded and a pasted screenshot, and
// later sees a staff reply with an unread badge. At phone width (375 px).
func TestBrowserTesterJourney(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	admin.createUser("po@example.com", "Pat Owner", "product_owner", "po-password-123")
	po := srv.login(t, "po@example.com", "po-password-123")

	pid := admin.createProduct("Star Raiders", "star-raiders")
	bid := admin.createBuild(pid, "1.4.0-rc1", map[string]any{
		"notes": "Release candidate for the winter update.",
		"access": map[string]any{
			"url":          "https://cdn.example.com/star-raiders-1.4.0-rc1.zip",
			"server":       "qc-eu-1.example.com:7777",
			"key":          "SR-KEY-1234-ABCD",
			"instructions": "Unzip, run StarRaiders.exe and connect to the server above.",
		},
	})
	c1 := admin.addChange(bid, "SR-101", "Faster weapon reload")
	c2 := admin.addChange(bid, "SR-102", "New minimap")
	_, token := po.invite(bid, "tess@example.com")

	tb := newTab(t, srv.URL, 375, 812)

	// Redeem the invite: the token stays in the fragment.
	tb.nav("/invite#" + token)
	tb.visible("#invite-form")
	tb.shot("invite")
	tb.typeInto("#invite-name", "Tess Tester")
	tb.typeInto("#invite-password", "tess-password-1")
	tb.click("#invite-submit")
	tb.visible("#build-title")
	tb.waitText("#build-title", "1.4.0-rc1")
	if loc := evalAs[string](tb, "location", `location.pathname + location.hash`); loc != fmt.Sprintf("/builds/%d", bid) {
		t.Errorf("after redeeming, location is %q, want /builds/%d with the token gone", loc, bid)
	}

	// Access details with copy buttons.
	tb.waitText(`[data-testid="access-server"]`, "qc-eu-1.example.com:7777")
	tb.waitText(`[data-testid="access-key"]`, "SR-KEY-1234-ABCD")
	tb.waitText(`[data-testid="access-url"]`, "star-raiders-1.4.0-rc1.zip")
	tb.visible(`[data-testid="access-key"] .copy-btn`)
	tb.noOverflow("build page at 375px")
	tb.shot("build")

	// Vote on two changes.
	tb.click(fmt.Sprintf(`[data-testid="vote-keep-%d"]`, c1))
	tb.visible(fmt.Sprintf(`[data-testid="vote-keep-%d"][aria-pressed="true"]`, c1))
	tb.click(fmt.Sprintf(`[data-testid="vote-revert-%d"]`, c2))
	tb.visible(fmt.Sprintf(`[data-testid="vote-revert-%d"][aria-pressed="true"]`, c2))

	// File a bug with an uploaded screenshot and a pasted one.
	shotPath := filepath.Join(t.TempDir(), "reload-glitch.png")
	if err := os.WriteFile(shotPath, testPNG(t, 64, 48, color.RGBA{200, 30, 30, 255}), 0o644); err != nil {
		t.Fatal(err)
	}
	tb.setValue("#fb-kind", "bug")
	tb.setValue("#fb-severity", "high")
	tb.typeInto("#fb-title", "Reload animation freezes after a dodge roll")
	tb.typeInto("#fb-body", "1. Fire until empty\n2. Dodge roll while reloading\nThe reload never finishes.")
	tb.setValue("#fb-change", fmt.Sprint(c1))
	tb.setValue("#fb-device", "Steam Deck")
	tb.run("choose a screenshot", chromedp.SetUploadFiles(chromedp.CSS("#fb-files"), []string{shotPath}))
	tb.until("one preview", `document.querySelectorAll('#fb-previews .thumb').length === 1`)
	tb.eval("paste a screenshot", `(async () => {
		const c = document.createElement('canvas'); c.width = 80; c.height = 60;
		const g = c.getContext('2d'); g.fillStyle = '#3366cc'; g.fillRect(0, 0, 80, 60);
		const blob = await new Promise((r) => c.toBlob(r, 'image/png'));
		const dt = new DataTransfer();
		dt.items.add(new File([blob], 'image.png', { type: 'image/png' }));
		document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
		return true;
	})()`)
	tb.until("two previews", `document.querySelectorAll('#fb-previews .thumb').length === 2`)
	tb.shot("feedback-form")
	tb.click("#fb-submit")
	tb.visible("#fb-success")
	href := evalAs[string](tb, "feedback link", `document.querySelector('#fb-success-link').getAttribute('href')`)
	var fbID int64
	if _, err := fmt.Sscanf(href, "/feedback/%d", &fbID); err != nil {
		t.Fatalf("feedback link %q: %v", href, err)
	}

	// Typing a similar bug title offers the existing one.
	tb.typeInto("#fb-title", "Reload animation freezes")
	tb.waitText("#fb-similar", "Reload animation freezes after a dodge roll")
	tb.setValue("#fb-title", "")
	tb.until("suggestions cleared", `!document.querySelector("#fb-similar li")`)

	// What the server got.
	fb := po.do("GET", fmt.Sprintf("/api/v1/feedback/%d", fbID), nil, http.StatusOK)
	if fb["kind"] != "bug" || fb["severity"] != "high" || id(fb["change_id"]) != c1 {
		t.Errorf("feedback stored as %v/%v on change %v, want bug/high on %d", fb["kind"], fb["severity"], fb["change_id"], c1)
	}
	if atts, _ := fb["attachments"].([]any); len(atts) != 2 {
		t.Errorf("feedback has %d attachments, want 2 (uploaded and pasted)", len(atts))
	}
	// The tester's votes as the API has them.
	tester := srv.login(t, "tess@example.com", "tess-password-1")
	myVotes := map[int64]any{}
	for _, ch := range tester.items(fmt.Sprintf("/api/v1/builds/%d/changes", bid)) {
		myVotes[id(ch)] = ch["my_vote"]
	}
	if myVotes[c1] != "keep" || myVotes[c2] != "revert" {
		t.Errorf("my_vote per change: %v, want keep on %d and revert on %d", myVotes, c1, c2)
	}

	// The votes survive a reload (my_vote).
	tb.nav(fmt.Sprintf("/builds/%d", bid))
	tb.visible(fmt.Sprintf(`[data-testid="vote-keep-%d"][aria-pressed="true"]`, c1))
	tb.visible(fmt.Sprintf(`[data-testid="vote-revert-%d"][aria-pressed="true"]`, c2))

	// Later, staff replies: the tester sees a badge, then the reply.
	po.do("POST", fmt.Sprintf("/api/v1/feedback/%d/comments", fbID), map[string]any{"body": "Thanks! We reproduced it: the fix lands in rc2."}, http.StatusCreated)
	tb.nav("/")
	tb.visible("#my-builds")
	tb.shot("home")
	tb.click("#nav-feedback")
	tb.visible(fmt.Sprintf(`[data-testid="unread-%d"]`, fbID))
	tb.waitText("#nav-unread", "1")
	tb.shot("my-feedback")
	tb.click(fmt.Sprintf(`[data-testid="my-fb-%d"] a`, fbID))
	tb.waitText(`[data-testid="comments"]`, "the fix lands in rc2")
	tb.waitText(`[data-testid="fb-detail-title"]`, "Reload animation freezes after a dodge roll")
	tb.until("two screenshots shown", `[...document.querySelectorAll('[data-testid="fb-attachments"] img')].filter((i) => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0).length === 2`)
	tb.noOverflow("feedback page at 375px")
	tb.shot("feedback")
	tb.click("#nav-feedback")
	tb.visible(fmt.Sprintf(`[data-testid="my-fb-%d"]`, fbID))
	tb.until("the badge is gone once read", fmt.Sprintf(`!document.querySelector('[data-testid="unread-%d"]') && !document.querySelector('#nav-unread:not([hidden])')`, fbID))
}

// Journey 2: a product owner opens the report (charts drawn, flagged change
// highlighted with its reason), triages the bug, replies, marks a duplicate,
// exports CSV, creates and revokes an invite.
func TestBrowserProductOwnerJourney(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	admin.createUser("po@example.com", "Pat Owner", "product_owner", "po-password-123")

	pid := admin.createProduct("Moon Karts", "moon-karts")
	bid := admin.createBuild(pid, "3.2.0", map[string]any{"policy": policyDefaults})
	c1 := admin.addChange(bid, "MK-1", "Double jump")
	c2 := admin.addChange(bid, "MK-2", "Shop rework")
	c3 := admin.addChange(bid, "MK-3", "New menu music")
	tester := srv.tester(t, admin, bid, "rita@example.com", "Rita Racer", "rita-password-1")
	testerID := id(tester.user)
	tester.vote(c2, "keep")
	tester.vote(c3, "revert")
	crash := tester.feedback(bid, map[string]any{
		"kind": "bug", "severity": "critical", "change_id": c1,
		"title":    "Crash when double jumping near walls",
		"body":     "The game closes to the desktop.",
		"platform": map[string]any{"os": "Windows 11", "device": "Desktop", "client_version": "3.2.0"},
	})
	tester.upload(fmt.Sprintf("/api/v1/feedback/%d/attachments", crash), "crash.png", testPNG(t, 320, 200, color.RGBA{20, 120, 220, 255}))
	dup := tester.feedback(bid, map[string]any{"kind": "bug", "severity": "high", "change_id": c1, "title": "Game quits on double jump"})

	tb := newTab(t, srv.URL, 1280, 900)
	tb.login("po@example.com", "po-password-123")
	tb.visible("#staff-builds")
	tb.shot("builds")
	tb.click(fmt.Sprintf(`[data-testid="build-row-%d"] a.row-title`, bid))

	// The report: charts, totals and the flagged change with its reason.
	flagged := fmt.Sprintf(`[data-testid="report-change-%d"]`, c1)
	tb.visible(flagged + `.flagged[data-flagged="true"]`)
	tb.until("a reason for the flag", fmt.Sprintf(`document.querySelector('[data-testid="reasons-%d"] li')?.textContent.trim().length > 10`, c1))
	tb.until("charts drawn", fmt.Sprintf(`document.querySelectorAll('#report-changes svg.bar').length === 3
		&& document.querySelectorAll('#report-changes svg.gauge line.gauge-threshold').length === 3
		&& document.querySelector('[data-testid="vote-bar-%d"] rect.bar-keep')?.getAttribute('width') === '100'
		&& document.querySelector('[data-testid="vote-bar-%d"] rect.bar-revert')?.getAttribute('width') === '100'
		&& document.querySelectorAll('[data-testid="chart-timeline"] rect.bar-feedback').length >= 1`, c2, c3))
	tb.waitText(`[data-testid="total-feedback"]`, "2")
	tb.waitText(fmt.Sprintf(`[data-testid="bugs-%d"]`, c1), "1 critical")
	for _, c := range []int64{c2, c3} {
		if f := evalAs[string](tb, "flag", fmt.Sprintf(`document.querySelector('[data-testid="report-change-%d"]').dataset.flagged`, c)); f != "false" {
			t.Errorf("change %d flagged=%s, want false", c, f)
		}
	}
	tb.shot("report")

	// The inbox: mark the second report as a duplicate of the first.
	tb.click("#tab-inbox")
	tb.click(fmt.Sprintf(`[data-testid="inbox-item-%d"]`, dup))
	tb.waitText(`[data-testid="fb-detail-title"]`, "Game quits on double jump")
	tb.typeInto(fmt.Sprintf("#dup-%d", dup), fmt.Sprint(crash))
	tb.click(`[data-testid="mark-duplicate"]`)
	tb.waitText(`[data-testid="fb-detail-status"]`, "Duplicate")
	if got := admin.do("GET", fmt.Sprintf("/api/v1/feedback/%d", dup), nil, http.StatusOK); got["status"] != "duplicate" || id(got["duplicate_of"]) != crash {
		t.Errorf("after mark duplicate: status %v duplicate_of %v, want duplicate of %d", got["status"], got["duplicate_of"], crash)
	}

	// Keyboard: from the first item, ArrowDown opens the next one.
	tb.run("focus the first item", chromedp.Focus(chromedp.CSS(fmt.Sprintf(`[data-testid="inbox-item-%d"]`, dup))))
	tb.run("arrow down", chromedp.KeyEvent(kb.ArrowDown))
	tb.visible(fmt.Sprintf(`[data-testid="inbox-item-%d"][aria-current="true"]`, crash))
	tb.waitText(`[data-testid="fb-detail-title"]`, "Crash when double jumping near walls")
	if focused := evalAs[string](tb, "focus", `document.activeElement?.dataset?.testid || ''`); focused != fmt.Sprintf("inbox-item-%d", crash) {
		t.Errorf("focus after ArrowDown is on %q", focused)
	}

	// The screenshot, enlarged.
	tb.until("screenshot loaded", `[...document.querySelectorAll('[data-testid="fb-attachments"] img')].some((i) => i.src.startsWith('blob:') && i.complete && i.naturalWidth === 320)`)
	tb.shot("inbox")
	tb.click(`[data-testid="fb-attachments"] .thumb-btn`)
	tb.visible(`[data-testid="lightbox"] img`)
	tb.shot("lightbox")
	tb.click(`[data-testid="lightbox-close"]`)
	tb.run("lightbox closed", chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="lightbox"]`)))

	// Triage and reply.
	tb.click(`[data-testid="triage-acknowledged"]`)
	tb.waitText(`[data-testid="fb-detail-status"]`, "Acknowledged")
	tb.typeInto(`[data-testid="reply-body"]`, "Thanks Rita! Which map were you on?")
	tb.click(`[data-testid="reply-send"]`)
	tb.waitText(`[data-testid="comments"]`, "Which map were you on?")
	got := tester.do("GET", fmt.Sprintf("/api/v1/feedback/%d", crash), nil, http.StatusOK)
	if got["status"] != "acknowledged" {
		t.Errorf("status after triage: %v, want acknowledged", got["status"])
	}
	comments, _ := got["comments"].([]any)
	if len(comments) != 1 || comments[0].(map[string]any)["staff"] != true || !strings.Contains(str(comments[0].(map[string]any)["body"]), "Which map") {
		t.Errorf("the tester sees comments %v, want the staff reply", comments)
	}
	tb.until("the list shows the new status", fmt.Sprintf(`document.querySelector('[data-testid="inbox-item-%d"]').textContent.includes('Acknowledged')`, crash))

	// Filters and search.
	tb.setValue("#filter-status", "duplicate")
	tb.until("filtered to the duplicate", fmt.Sprintf(`document.querySelectorAll('#inbox-list .inbox-item').length === 1 && !!document.querySelector('[data-testid="inbox-item-%d"]')`, dup))
	tb.setValue("#filter-status", "")
	tb.typeInto("#filter-q", "walls")
	tb.until("searched", fmt.Sprintf(`document.querySelectorAll('#inbox-list .inbox-item').length === 1 && !!document.querySelector('[data-testid="inbox-item-%d"]')`, crash))

	// CSV export through an object URL.
	downloads := t.TempDir()
	tb.allowDownloads(downloads)
	tb.click("#export-csv")
	tb.waitText("#export-status", "CSV downloaded")
	csvPath := waitFile(t, downloads, ".csv")
	csv, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(csv), "Crash when double jumping near walls") {
		t.Errorf("the CSV misses the bug title:\n%s", csv)
	}

	// Invites: create one (link shown once), then revoke it.
	tb.click("#tab-invites")
	tb.visible(fmt.Sprintf(`[data-testid="tester-row-%d"]`, testerID))
	tb.typeInto("#invite-email", "newbie@example.com")
	tb.click("#invite-create")
	tb.visible("#invite-link")
	link := evalAs[string](tb, "invite link", `document.querySelector('#invite-link').value`)
	prefix := srv.URL + "/invite#"
	if !strings.HasPrefix(link, prefix) || len(link) <= len(prefix)+10 {
		t.Fatalf("invite link %q, want %s<token>", link, prefix)
	}
	newToken := strings.TrimPrefix(link, prefix)
	tb.visible("#invite-copy")
	var inviteID int64
	for _, inv := range admin.items(fmt.Sprintf("/api/v1/builds/%d/invites", bid)) {
		if inv["email"] == "newbie@example.com" {
			inviteID = id(inv)
		}
	}
	if inviteID == 0 {
		t.Fatal("the new invite is not listed by the API")
	}
	tb.waitText(fmt.Sprintf(`[data-testid="invite-status-%d"]`, inviteID), "pending")
	tb.shot("invites")
	tb.click(fmt.Sprintf(`[data-testid="invite-revoke-%d"]`, inviteID))
	tb.click(`[data-testid="modal-confirm"]`)
	tb.waitText(fmt.Sprintf(`[data-testid="invite-status-%d"]`, inviteID), "revoked")
	anon := &client{t: t, base: srv.URL}
	anon.do("POST", "/api/v1/invites/redeem", map[string]any{"token": newToken, "name": "Newbie", "password": "newbie-password-1"}, http.StatusGone)
}

// Journey 3: a release manager reverts the flagged change, approves the
// others (the note prompt appears for a flagged one), sees the gate's blockers
// until all are decided, promotes to staging and to production, then rolls
// back. Then an admin looks at users and the audit log.
func TestBrowserReleaseManagerJourney(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	admin.createUser("rm@example.com", "Rory Release", "release_manager", "rm-password-123")

	pid := admin.createProduct("Sky Forge", "sky-forge")
	// The build that is in production now.
	prev := admin.createBuild(pid, "2.0.0", nil)
	admin.do("POST", fmt.Sprintf("/api/v1/builds/%d/promote", prev), map[string]any{"to": "staging"}, http.StatusOK)
	admin.do("POST", fmt.Sprintf("/api/v1/builds/%d/promote", prev), map[string]any{"to": "production"}, http.StatusOK)

	policy := map[string]any{"min_votes": 2, "revert_threshold": 0.3, "confidence": 0.95, "block_severity": "critical"}
	bid := admin.createBuild(pid, "2.1.0", map[string]any{"policy": policy})
	c1 := admin.addChange(bid, "SF-1", "Remove auto-aim")
	c2 := admin.addChange(bid, "SF-2", "Harder first boss")
	c3 := admin.addChange(bid, "SF-3", "New HUD font")
	t1 := srv.tester(t, admin, bid, "ann@example.com", "Ann", "ann-password-12")
	t2 := srv.tester(t, admin, bid, "bob@example.com", "Bob", "bob-password-12")
	// 2 of 2 revert: Wilson lower bound 0.342 ≥ 0.30, so c1 and c2 are flagged.
	for _, tc := range []*client{t1, t2} {
		tc.vote(c1, "revert")
		tc.vote(c2, "revert")
		tc.vote(c3, "keep")
	}

	tb := newTab(t, srv.URL, 1280, 900)
	tb.login("rm@example.com", "rm-password-123")
	tb.visible("#staff-builds")
	tb.click(fmt.Sprintf(`[data-testid="build-row-%d"] a[href$="/board"]`, bid))

	row := func(c int64) string { return fmt.Sprintf(`[data-testid="board-change-%d"]`, c) }
	tb.visible(row(c1) + `[data-flagged="true"]`)
	tb.visible(row(c2) + `[data-flagged="true"]`)
	tb.visible(row(c3) + `[data-flagged="false"]`)
	tb.until("the reasons are shown", fmt.Sprintf(`document.querySelector('[data-testid="board-reasons-%d"] li')?.textContent.length > 10`, c1))
	tb.until("blockers listed", `document.querySelectorAll('#gate-blockers li').length >= 1 && document.querySelector('#promote-btn').disabled`)
	tb.shot("board")

	// Approving a flagged change asks for a note; cancel, then revert it.
	tb.click(fmt.Sprintf(`[data-testid="approve-%d"]`, c1))
	tb.visible(`[data-testid="note-dialog"]`)
	tb.shot("note-prompt")
	tb.click(`[data-testid="modal-cancel"]`)
	tb.run("prompt closed", chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="note-dialog"]`)))
	tb.click(fmt.Sprintf(`[data-testid="revert-%d"]`, c1))
	tb.waitText(fmt.Sprintf(`[data-testid="status-%d"]`, c1), "Reverted")
	tb.until("still blocked", `document.querySelectorAll('#gate-blockers li').length >= 1 && document.querySelector('#promote-btn').disabled`)

	// Approve the other flagged one with a note.
	tb.click(fmt.Sprintf(`[data-testid="approve-%d"]`, c2))
	tb.visible(`[data-testid="note-dialog"]`)
	tb.typeInto(`[data-testid="approve-note"]`, "The harder boss is intended for the season event.")
	tb.click(`[data-testid="approve-note-confirm"]`)
	tb.waitText(fmt.Sprintf(`[data-testid="status-%d"]`, c2), "Approved")

	// The unflagged one needs no note.
	tb.click(fmt.Sprintf(`[data-testid="approve-%d"]`, c3))
	tb.waitText(fmt.Sprintf(`[data-testid="status-%d"]`, c3), "Approved")
	if n := evalAs[int](tb, "dialogs", `document.querySelectorAll('dialog').length`); n != 0 {
		t.Errorf("%d dialogs open after approving an unflagged change", n)
	}
	for _, ch := range admin.items(fmt.Sprintf("/api/v1/builds/%d/changes", bid)) {
		if id(ch) == c2 && ch["note"] != "The harder boss is intended for the season event." {
			t.Errorf("the approval note of %d is %q", c2, ch["note"])
		}
	}

	// The gate opens: promote to staging, then production.
	tb.visible("#gate-ok")
	tb.visible(`#promote-btn[data-to="staging"]:not([disabled])`)
	tb.click("#promote-btn")
	tb.visible(`#promote-btn[data-to="production"]:not([disabled])`)
	tb.shot("board-staging")
	tb.click("#promote-btn")
	tb.visible("#gate-final")
	product := admin.do("GET", fmt.Sprintf("/api/v1/products/%d", pid), nil, http.StatusOK)
	if id(product["production_build_id"]) != bid {
		t.Errorf("production build is %v, want %d", product["production_build_id"], bid)
	}
	if st := admin.do("GET", fmt.Sprintf("/api/v1/builds/%d", prev), nil, http.StatusOK)["stage"]; st != "superseded" {
		t.Errorf("the previous build is %v, want superseded", st)
	}

	// Release notes to copy.
	tb.until("release notes", `(() => { const v = document.querySelector('#release-notes')?.value || ''; return v.includes('Harder first boss') && v.includes('Remove auto-aim'); })()`)
	tb.visible("#copy-notes")
	tb.shot("board-production")

	// Roll back to the previous production build.
	tb.visible(fmt.Sprintf(`[data-testid="history-%d"]`, prev))
	tb.click("#rollback-btn")
	tb.click(`[data-testid="modal-confirm"]`)
	tb.waitText(fmt.Sprintf(`[data-testid="history-%d"]`, bid), "Rolled back")
	tb.waitText(fmt.Sprintf(`[data-testid="history-%d"]`, prev), "live now")
	product = admin.do("GET", fmt.Sprintf("/api/v1/products/%d", pid), nil, http.StatusOK)
	if id(product["production_build_id"]) != prev {
		t.Errorf("after rollback the production build is %v, want %d", product["production_build_id"], prev)
	}
	if st := admin.do("GET", fmt.Sprintf("/api/v1/builds/%d", bid), nil, http.StatusOK)["stage"]; st != "rolled_back" {
		t.Errorf("the rolled back build is %v, want rolled_back", st)
	}
	tb.shot("rolled-back")

	// Products and builds.
	tb.nav("/products")
	tb.visible(fmt.Sprintf(`[data-testid="product-%d"]`, pid))
	tb.shot("products")
	tb.nav(fmt.Sprintf("/products/%d", pid))
	tb.visible("#product-builds")
	tb.shot("product")
	tb.nav(fmt.Sprintf("/builds/%d/settings", bid))
	tb.visible("#build-form")
	tb.shot("settings")

	// An admin: users and the audit log.
	tb.logout()
	tb.shot("login")
	tb.login(adminEmail, adminPassword)
	tb.nav("/users")
	tb.visible("#users table")
	tb.shot("users")
	tb.nav("/audit")
	tb.visible("#audit table")
	tb.shot("audit")
}

// Journey 4: user-written text is shown as text and runs nothing.
func TestBrowserFeedbackTitleIsText(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	admin.createUser("po@example.com", "Pat Owner", "product_owner", "po-password-123")
	const (
		evilTitle  = `<img src=x onerror=alert(1)>`
		evilBody   = `<script>alert(2)</script><img src=y onerror="window.__pwned=1">`
		evilChange = `<b>bold</b><svg onload=alert(3)>`
		evilName   = `<i onmouseover=alert(4)>Eve</i>`
		evilReply  = `<a href="javascript:alert(5)">click</a>`
	)
	pid := admin.createProduct("Text Only", "text-only")
	bid := admin.createBuild(pid, "0.1.0", nil)
	cid := admin.addChange(bid, "TO-1", evilChange)
	tester := srv.tester(t, admin, bid, "eve@example.com", evilName, "eve-password-12")
	fid := tester.feedback(bid, map[string]any{"kind": "bug", "severity": "low", "change_id": cid, "title": evilTitle, "body": evilBody})
	admin.do("POST", fmt.Sprintf("/api/v1/feedback/%d/comments", fid), map[string]any{"body": evilReply}, http.StatusCreated)

	noInjection := `document.querySelectorAll('img[src="x"], img[src="y"], script:not([src]), svg[onload], i[onmouseover], a[href^="javascript:"]').length === 0 && window.__pwned === undefined`
	tb := newTab(t, srv.URL, 1280, 900)

	// The tester's views.
	tb.login("eve@example.com", "eve-password-12")
	tb.nav(fmt.Sprintf("/builds/%d", bid))
	tb.visible(fmt.Sprintf(`[data-testid="change-%d"]`, cid))
	if got := tb.text(fmt.Sprintf(`[data-testid="change-%d"] strong`, cid)); got != evilChange {
		t.Errorf("change title shown as %q, want the literal text", got)
	}
	tb.nav("/feedback")
	tb.visible(fmt.Sprintf(`[data-testid="my-fb-%d"]`, fid))
	if got := tb.text(fmt.Sprintf(`[data-testid="my-fb-%d"] .row-title`, fid)); got != evilTitle {
		t.Errorf("my feedback shows the title as %q, want the literal text", got)
	}
	tb.until("nothing injected in my feedback", noInjection)
	tb.shot("tester-list")
	tb.click(fmt.Sprintf(`[data-testid="my-fb-%d"] a`, fid))
	tb.visible(`[data-testid="fb-detail-title"]`)
	tb.waitText(`[data-testid="comments"]`, evilReply)
	if got := tb.text(`[data-testid="fb-detail-title"]`); got != evilTitle {
		t.Errorf("detail title %q, want the literal text", got)
	}
	if got := tb.text(`[data-testid="fb-detail-body"]`); got != evilBody {
		t.Errorf("detail body %q, want the literal text", got)
	}
	tb.until("nothing injected in the detail", noInjection)
	if title := evalAs[string](tb, "document title", `document.title`); strings.Contains(title, "<img") {
		t.Errorf("document title %q", title)
	}
	tb.shot("tester-detail")

	// Staff views: inbox, detail, report.
	tb.logout()
	tb.login("po@example.com", "po-password-123")
	tb.nav(fmt.Sprintf("/builds/%d/inbox", bid))
	tb.visible(fmt.Sprintf(`[data-testid="inbox-item-%d"]`, fid))
	if got := tb.text(fmt.Sprintf(`[data-testid="inbox-item-%d"] .inbox-title`, fid)); got != evilTitle {
		t.Errorf("inbox title %q, want the literal text", got)
	}
	tb.waitText(fmt.Sprintf(`[data-testid="inbox-item-%d"]`, fid), evilName)
	tb.click(fmt.Sprintf(`[data-testid="inbox-item-%d"]`, fid))
	tb.waitText(`[data-testid="fb-detail-title"]`, evilTitle)
	tb.waitText(`[data-testid="feedback-detail"] .meta`, evilChange)
	tb.waitText(`[data-testid="comments"]`, evilReply)
	tb.until("nothing injected in the inbox", noInjection)
	tb.shot("inbox")
	tb.nav(fmt.Sprintf("/builds/%d/report", bid))
	tb.waitText(fmt.Sprintf(`[data-testid="report-change-%d"] h3`, cid), evilChange)
	tb.until("nothing injected in the report", noInjection)
	tb.shot("report")
}

// Journey 5: the report updates without a reload when another client votes
// or files feedback.
func TestBrowserReportLive(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	admin.createUser("po@example.com", "Pat Owner", "product_owner", "po-password-123")
	pid := admin.createProduct("Live Ops", "live-ops")
	bid := admin.createBuild(pid, "5.0.0", map[string]any{"policy": policyDefaults})
	c1 := admin.addChange(bid, "LO-1", "Daily quests")
	c2 := admin.addChange(bid, "LO-2", "Energy system")
	t1 := srv.tester(t, admin, bid, "kim@example.com", "Kim", "kim-password-12")
	t2 := srv.tester(t, admin, bid, "lee@example.com", "Lee", "lee-password-12")

	tb := newTab(t, srv.URL, 1280, 900)
	tb.login("po@example.com", "po-password-123")
	tb.nav(fmt.Sprintf("/builds/%d/report", bid))
	tb.waitText("#live-status", "Live")
	tb.waitText(fmt.Sprintf(`[data-testid="votes-%d"]`, c1), "0 keep · 0 revert")
	tb.waitText(`[data-testid="total-feedback"]`, "0")
	tb.eval("mark the page", `window.__noReload = 'still here'`)

	t1.vote(c1, "revert")
	tb.waitText(fmt.Sprintf(`[data-testid="votes-%d"]`, c1), "0 keep · 1 revert")
	t2.vote(c1, "keep")
	tb.waitText(fmt.Sprintf(`[data-testid="votes-%d"]`, c1), "1 keep · 1 revert")
	t2.feedback(bid, map[string]any{"kind": "bug", "severity": "critical", "change_id": c2, "title": "Energy never refills"})
	tb.waitText(`[data-testid="total-feedback"]`, "1")
	tb.waitText(fmt.Sprintf(`[data-testid="bugs-%d"]`, c2), "1 critical")
	tb.visible(fmt.Sprintf(`[data-testid="report-change-%d"][data-flagged="true"]`, c2))
	if mark := evalAs[string](tb, "page mark", `String(window.__noReload)`); mark != "still here" {
		t.Errorf("the page reloaded (mark %q): updates must arrive without a reload", mark)
	}
	tb.shot("report-live")
}

// An expired or rejected access token is refreshed through the cookie and the
// request retried, without the user noticing. The first API request after
// sign-in gets a bad Authorization header on its way out, so the server
// really answers 401.
func TestBrowserExpiredTokenIsRefreshed(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	pid := admin.createProduct("Refresh Rally", "refresh-rally")
	bid := admin.createBuild(pid, "1.0.0", nil)

	tb := newTab(t, srv.URL, 1280, 900)
	tb.login(adminEmail, adminPassword)
	tb.visible(fmt.Sprintf(`[data-testid="build-row-%d"]`, bid))

	paused := chromedp.Events(tb.ctx, fetch.RequestPaused)
	var seen atomic.Int32
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			var headers []*fetch.HeaderEntry
			if seen.Add(1) == 1 {
				for k, v := range ev.Request.Headers {
					if strings.EqualFold(k, "Authorization") {
						v = "Bearer expired.access.token"
					}
					headers = append(headers, &fetch.HeaderEntry{Name: k, Value: fmt.Sprint(v)})
				}
			}
			_, _ = chromedp.Call(tb.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID, Headers: headers})
		}
	}()
	responses := chromedp.Events(tb.ctx, network.ResponseReceived)
	var mu sync.Mutex
	var answers []string
	go func() {
		for ev, err := range responses {
			if err != nil {
				return
			}
			if u, _ := url.Parse(ev.Response.URL); u != nil && strings.HasPrefix(u.Path, "/api/") {
				mu.Lock()
				answers = append(answers, fmt.Sprintf("%d %s", ev.Response.Status, u.Path))
				mu.Unlock()
			}
		}
	}()
	if _, err := chromedp.Call(tb.ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/builds?*"}}}); err != nil {
		t.Fatal(err)
	}

	// A client-side navigation: the token in memory is the one rejected.
	tb.click("#nav-products")
	tb.visible("#products")
	tb.visible("#logout")
	if n := seen.Load(); n < 2 {
		t.Errorf("%d requests to /builds, want the rejected one and its retry", n)
	}
	ok := func(got string) bool {
		return strings.Contains(got, "401 /api/v1/builds") && strings.Count(got, "200 /api/v1/auth/refresh") == 1 && strings.Contains(got, "200 /api/v1/builds")
	}
	var got string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		got = strings.Join(answers, "\n")
		mu.Unlock()
		if ok(got) || time.Now().After(deadline) {
			break
		}
	}
	if !ok(got) {
		t.Errorf("API answers seen by the browser:\n%s\nwant a 401 on /api/v1/builds, one refresh, then a 200 on /api/v1/builds", got)
	}
	tb.click("#nav-builds")
	tb.visible(fmt.Sprintf(`[data-testid="build-row-%d"]`, bid))
}
