package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"playgate/models"
)

// asRevokedTester is a tester whose grant on the fixture build was revoked
// (DELETE /api/v1/builds/{id}/testers/{user_id}); the account still works.
const asRevokedTester = "revoked_tester"

// matrixCallers is every caller the authorization matrix tries on every route.
var matrixCallers = append(append([]string{}, everyone...), asRevokedTester)

// matrixRow is one route of the matrix: what each caller gets, and how to
// call it when the default (ids filled from the fixture, no body) is not enough.
type matrixRow struct {
	want map[string]int
	// path builds the path for one caller; nil fills each :param from the fixture.
	path func(fx *matrixFixture, who string) string
	// body is a valid JSON body for the caller (nil: none).
	body func(fx *matrixFixture, who string) any
	// upload sends a small PNG as multipart field "file".
	upload bool
	// stream marks a route that answers a stream: the call is cut after a moment.
	stream bool
}

// authed is a route behind sign-in: anonymous callers and disabled users get 401.
func authed(admin, rm, po, tester, other, revoked int) map[string]int {
	return map[string]int{asAnonymous: 401, asDisabledAdmin: 401, asDisabledTester: 401,
		asAdmin: admin, asReleaseManager: rm, asProductOwner: po, asTester: tester, asOtherTester: other, asRevokedTester: revoked}
}

// public is a route anyone may call: every caller gets status.
func public(status int) map[string]int {
	m := map[string]int{}
	for _, who := range matrixCallers {
		m[who] = status
	}
	return m
}

// Shorthands for the contract's role sets. A tester is refused staff work
// with 403 whatever the build (the role alone decides); on build-scoped
// reads a tester without a live grant gets 404, as if the build did not exist.
func adminOnly(s int) map[string]int    { return authed(s, 403, 403, 403, 403, 403) }
func managersOnly(s int) map[string]int { return authed(s, s, 403, 403, 403, 403) }
func staffOnly(s int) map[string]int    { return authed(s, s, s, 403, 403, 403) }
func buildScoped(s int) map[string]int  { return authed(s, s, s, s, 404, 404) }
func testerOnly(s int) map[string]int   { return authed(403, 403, 403, s, 404, 404) }
func everyUser(s int) map[string]int    { return authed(s, s, s, s, s, s) }

// matrix is THE table: every route of the router, keyed "METHOD /path" as
// gin registers it, with every caller's expected status.
var matrix = map[string]matrixRow{
	"GET /healthz":          {want: public(200)},
	"GET /readyz":           {want: public(200)},
	"GET /metrics":          {want: public(200)},
	"GET /api/openapi.json": {want: public(200)},

	// Signing in with the caller's own credentials: disabled accounts are refused.
	"POST /api/v1/auth/login": {
		want: map[string]int{asAnonymous: 401, asAdmin: 200, asReleaseManager: 200, asProductOwner: 200, asTester: 200,
			asOtherTester: 200, asDisabledAdmin: 401, asDisabledTester: 401, asRevokedTester: 200},
		body: func(fx *matrixFixture, who string) any {
			if a := fx.actor(who); a != nil {
				return map[string]string{"email": a.Email, "password": a.Password}
			}
			return map[string]string{"email": "nobody@example.com", "password": "not-the-password"}
		},
	},
	"POST /api/v1/auth/refresh": {
		want: map[string]int{asAnonymous: 401, asAdmin: 200, asReleaseManager: 200, asProductOwner: 200, asTester: 200,
			asOtherTester: 200, asDisabledAdmin: 401, asDisabledTester: 401, asRevokedTester: 200},
		body: refreshBody,
	},
	"POST /api/v1/auth/logout": {want: public(204), body: refreshBody},
	// Redeeming needs no account: every caller redeems a fresh invite.
	"POST /api/v1/invites/redeem": {
		want: public(201),
		body: func(fx *matrixFixture, who string) any {
			tok := fx.inviteToken(fx.bid, fmt.Sprintf("redeem-%s-%d@example.com", who, fx.e.next()))
			return map[string]string{"token": tok, "name": "Redeemer " + who, "password": "redeem-password-1"}
		},
	},

	"GET /api/v1/me": {want: everyUser(200)},
	"POST /api/v1/me/password": {
		want: everyUser(204),
		body: func(fx *matrixFixture, who string) any {
			cur := "not-the-password"
			if a := fx.actor(who); a != nil {
				cur = a.Password
			}
			return map[string]string{"current_password": cur, "new_password": "a-new-password-" + who}
		},
	},

	"POST /api/v1/users": {
		want: adminOnly(201),
		body: func(fx *matrixFixture, who string) any {
			return map[string]string{"email": fmt.Sprintf("new-%s-%d@example.com", who, fx.e.next()), "name": "New " + who,
				"role": "product_owner", "password": "a-long-password-1"}
		},
	},
	"GET /api/v1/users": {want: adminOnly(200)},
	// Erasing: the admin erases a user of their own making.
	"DELETE /api/v1/users/:id": {
		want: adminOnly(204),
		path: func(fx *matrixFixture, who string) string {
			uid := fx.w.other.ID
			if fx.want(who) == 204 {
				uid = fx.e.user(models.RoleTester).ID
			}
			return fmt.Sprintf("/api/v1/users/%d?erase=true", uid)
		},
	},
	"PATCH /api/v1/users/:id": {
		want: adminOnly(200),
		body: func(fx *matrixFixture, who string) any { return map[string]string{"name": "Renamed by " + who} },
	},

	"POST /api/v1/products": {
		want: managersOnly(201),
		body: func(fx *matrixFixture, who string) any {
			n := fx.e.next()
			return map[string]string{"name": fmt.Sprintf("Matrix %d", n), "slug": fmt.Sprintf("matrix-%d", n)}
		},
	},
	"GET /api/v1/products":     {want: staffOnly(200)},
	"GET /api/v1/products/:id": {want: staffOnly(200)},
	"POST /api/v1/products/:id/builds": {
		want: managersOnly(201),
		body: func(fx *matrixFixture, who string) any {
			return map[string]any{"version": fmt.Sprintf("9.%d.0", fx.e.next()), "access": map[string]string{"url": "https://dl.example.com/m.zip"}}
		},
	},
	// Rolling back needs a product that had two production builds.
	"POST /api/v1/products/:id/rollback": {
		want: managersOnly(200),
		path: func(fx *matrixFixture, who string) string {
			pid := fx.productID
			if fx.want(who) == 200 {
				pid = fx.productWithHistory()
			}
			return fmt.Sprintf("/api/v1/products/%d/rollback", pid)
		},
	},

	"POST /api/v1/products/:id/webhooks": {want: managersOnly(201), body: webhookBody},
	"GET /api/v1/products/:id/webhooks":  {want: managersOnly(200)},
	// Each manager deletes a webhook of their own.
	"DELETE /api/v1/products/:id/webhooks/:webhook_id": {
		want: managersOnly(204),
		path: func(fx *matrixFixture, who string) string {
			return fmt.Sprintf("/api/v1/products/%d/webhooks/%d", fx.productID, fx.newWebhook())
		},
	},
	"GET /api/v1/webhooks/:id/deliveries": {want: managersOnly(200)},

	"GET /api/v1/builds":     {want: everyUser(200)},
	"GET /api/v1/builds/:id": {want: buildScoped(200)},
	"PATCH /api/v1/builds/:id": {
		want: managersOnly(200),
		body: func(fx *matrixFixture, who string) any { return map[string]any{"notes": "Patched by " + who} },
	},
	"POST /api/v1/builds/:id/changes": {
		want: managersOnly(201),
		body: func(fx *matrixFixture, who string) any {
			return map[string]string{"key": fmt.Sprintf("MX-%d", fx.e.next()), "title": "Change by " + who}
		},
	},
	"GET /api/v1/builds/:id/changes": {want: buildScoped(200)},
	"POST /api/v1/builds/:id/invites": {
		want: staffOnly(201),
		body: func(fx *matrixFixture, who string) any {
			return map[string]any{"email": fmt.Sprintf("invitee-%s-%d@example.com", who, fx.e.next())}
		},
	},
	"GET /api/v1/builds/:id/invites": {want: staffOnly(200)},
	// Each caller revokes an invite of their own, so a second revoke is never what is tested.
	"DELETE /api/v1/invites/:id": {
		want: staffOnly(204),
		path: func(fx *matrixFixture, who string) string {
			return fmt.Sprintf("/api/v1/invites/%d", fx.inviteID(fmt.Sprintf("revoke-%s-%d@example.com", who, fx.e.next())))
		},
	},
	"GET /api/v1/builds/:id/testers": {want: staffOnly(200)},
	// Each staff caller revokes a tester of their own.
	"DELETE /api/v1/builds/:id/testers/:user_id": {
		want: staffOnly(204),
		path: func(fx *matrixFixture, who string) string {
			uid := fx.w.tester.ID
			if fx.want(who) == 204 {
				uid = fx.e.tester(fx.bid).ID
			}
			return fmt.Sprintf("/api/v1/builds/%d/testers/%d", fx.bid, uid)
		},
	},

	"PUT /api/v1/changes/:id/vote": {
		want: testerOnly(200),
		body: func(fx *matrixFixture, who string) any { return map[string]string{"vote": "revert"} },
	},
	"POST /api/v1/builds/:id/feedback": {
		want: testerOnly(201),
		body: func(fx *matrixFixture, who string) any {
			return map[string]any{"kind": "bug", "severity": "high", "title": "Crash by " + who, "change_id": fx.cid}
		},
	},
	"GET /api/v1/builds/:id/feedback": {want: buildScoped(200)},
	"GET /api/v1/builds/:id/similar": {want: buildScoped(200), path: func(fx *matrixFixture, who string) string {
		return fmt.Sprintf("/api/v1/builds/%d/similar?title=crash+on+start", fx.bid)
	}},
	// The fixture's item belongs to the granted tester: nobody else but staff sees it.
	"GET /api/v1/feedback/:id": {want: buildScoped(200)},
	"PATCH /api/v1/feedback/:id": {
		want: staffOnly(200),
		body: func(fx *matrixFixture, who string) any { return map[string]string{"status": "acknowledged"} },
	},
	"POST /api/v1/feedback/:id/comments": {
		want: buildScoped(201),
		body: func(fx *matrixFixture, who string) any { return map[string]string{"body": "Comment by " + who} },
	},
	"POST /api/v1/feedback/:id/attachments": {want: testerOnly(201), upload: true},
	"GET /api/v1/attachments/:id":           {want: buildScoped(200)},
	"GET /api/v1/builds/:id/feedback.csv":   {want: staffOnly(200)},

	"GET /api/v1/builds/:id/report": {want: staffOnly(200)},
	"GET /api/v1/builds/:id/events": {want: staffOnly(200), stream: true},
	"GET /api/v1/builds/:id/gate":   {want: managersOnly(200)},
	"POST /api/v1/changes/:id/decision": {
		want: managersOnly(200),
		body: func(fx *matrixFixture, who string) any {
			return map[string]string{"decision": "reverted", "note": "Reverted by " + who}
		},
	},
	// Promotion needs a build whose gate is open: managers each get a fresh
	// build without changes.
	"POST /api/v1/builds/:id/promote": {
		want: managersOnly(200),
		path: func(fx *matrixFixture, who string) string {
			bid := fx.bid
			if fx.want(who) == 200 {
				bid, _ = fx.e.build(0)
			}
			return fmt.Sprintf("/api/v1/builds/%d/promote", bid)
		},
		body: func(fx *matrixFixture, who string) any { return map[string]string{"to": "staging"} },
	},
	"GET /api/v1/builds/:id/release-notes": {want: staffOnly(200)},

	"GET /api/v1/audit": {want: managersOnly(200)},
}

// refreshBody sends the caller's own refresh token (anonymous: none).
func refreshBody(fx *matrixFixture, who string) any {
	if a := fx.actor(who); a != nil {
		return map[string]string{"refresh_token": a.Refresh}
	}
	return map[string]string{}
}

func webhookBody(fx *matrixFixture, who string) any {
	return map[string]any{"url": "https://hooks.example.com/playgate", "events": models.WebhookEvents[:1], "secret": "matrix-secret-0123456789"}
}

// matrixFixture is one route's world: a build with a change, its granted
// tester's feedback item with an attachment, an invite, and every caller.
type matrixFixture struct {
	e                *env
	w                *world
	revoked          *actor
	row              matrixRow
	bid, cid         int64
	productID        int64
	fid, aid, invite int64
	webhook          int64 // made on first use
}

func newMatrixFixture(t *testing.T, row matrixRow) *matrixFixture {
	t.Helper()
	e := newEnv(t)
	w := e.world(1)
	fx := &matrixFixture{e: e, w: w, row: row, bid: w.bid, cid: w.changes[0]}
	fx.revoked = e.tester(w.bid)
	e.must(204, "DELETE", fmt.Sprintf("/api/v1/builds/%d/testers/%d", w.bid, fx.revoked.ID), e.admin.Token, nil)
	b := e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), e.admin.Token, nil).JSON(t)
	fx.productID = int64(b["product_id"].(float64))
	fx.fid = e.bug(w.tester, w.bid, &fx.cid, "medium", "Matrix door bug")
	fx.aid = id(t, e.upload(w.tester.Token, fx.fid, "door.png", pngBytes(t, 2, 2)))
	fx.invite = fx.inviteID("matrix-invitee@example.com")
	return fx
}

func (fx *matrixFixture) actor(who string) *actor {
	if who == asRevokedTester {
		return fx.revoked
	}
	return fx.w.actor(fx.e, who)
}

func (fx *matrixFixture) want(who string) int { return fx.row.want[who] }

// inviteID creates an invite to the fixture build and returns its id.
func (fx *matrixFixture) inviteID(email string) int64 {
	fx.e.t.Helper()
	r := fx.e.must(201, "POST", fmt.Sprintf("/api/v1/builds/%d/invites", fx.bid), fx.e.admin.Token, map[string]any{"email": email})
	return id(fx.e.t, r)
}

func (fx *matrixFixture) inviteToken(buildID int64, email string) string {
	return fx.e.invite(buildID, email)
}

// newWebhook creates a webhook on the fixture product and returns its id.
func (fx *matrixFixture) newWebhook() int64 {
	fx.e.t.Helper()
	r := fx.e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/webhooks", fx.productID), fx.e.admin.Token, webhookBody(fx, asAdmin))
	return id(fx.e.t, r)
}

// productWithHistory makes a product whose production build replaced an
// earlier one, so a rollback has somewhere to go.
func (fx *matrixFixture) productWithHistory() int64 {
	e := fx.e
	e.t.Helper()
	pid := e.product()
	for i := 0; i < 2; i++ {
		r := e.must(201, "POST", fmt.Sprintf("/api/v1/products/%d/builds", pid), e.admin.Token, map[string]any{"version": fmt.Sprintf("2.%d.0", i)})
		bid := id(e.t, r)
		for _, to := range []string{"staging", "production"} {
			e.must(200, "POST", fmt.Sprintf("/api/v1/builds/%d/promote", bid), e.admin.Token, map[string]string{"to": to})
		}
	}
	return pid
}

// fillPath replaces each :param of a gin path with the fixture id that the
// segment before it names.
func (fx *matrixFixture) fillPath(t *testing.T, route string) string {
	t.Helper()
	segs := strings.Split(route, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, ":") {
			continue
		}
		var v int64
		switch segs[i-1] {
		case "users":
			v = fx.w.other.ID
		case "products":
			v = fx.productID
		case "builds":
			v = fx.bid
		case "changes":
			v = fx.cid
		case "invites":
			v = fx.invite
		case "feedback":
			v = fx.fid
		case "attachments":
			v = fx.aid
		case "webhooks":
			if fx.webhook == 0 {
				fx.webhook = fx.newWebhook()
			}
			v = fx.webhook
		default:
			t.Fatalf("%s: no fixture id for %s after /%s/: give the row a path", route, s, segs[i-1])
		}
		segs[i] = fmt.Sprint(v)
	}
	return strings.Join(segs, "/")
}

// call sends one caller's request of a row.
func (fx *matrixFixture) call(t *testing.T, method, route, who string) resp {
	t.Helper()
	path := ""
	if fx.row.path != nil {
		path = fx.row.path(fx, who)
	} else {
		path = fx.fillPath(t, route)
	}
	var body []byte
	contentType := ""
	switch {
	case fx.row.upload:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile("file", "shot.png")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(pngBytes(t, 3, 3)); err != nil {
			t.Fatal(err)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		body, contentType = buf.Bytes(), mw.FormDataContentType()
	case fx.row.body != nil:
		b, err := json.Marshal(fx.row.body(fx, who))
		if err != nil {
			t.Fatal(err)
		}
		body, contentType = b, "application/json"
	}
	ctx := context.Background()
	if fx.row.stream {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(body)).WithContext(ctx)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a := fx.actor(who); a != nil {
		req.Header.Set("Authorization", "Bearer "+a.Token)
	}
	return fx.e.sendRaw(req)
}

// matrixSkipped tells routes outside the API: the web UI's fallback.
func matrixSkipped(path string) bool {
	return path == "/" || (strings.Contains(path, "*") && !strings.HasPrefix(path, "/api/"))
}

// TestAuthorizationMatrix walks every route the router registers and calls
// it as every kind of caller, each in a fresh world, expecting exactly the
// status the matrix table gives (and, for errors, the contract's envelope
// with the code that goes with the status).
func TestAuthorizationMatrix(t *testing.T) {
	router, err := newEnv(t).api.Router()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	var keys []string
	for _, rt := range router.Routes() {
		if matrixSkipped(rt.Path) {
			continue
		}
		key := rt.Method + " " + rt.Path
		registered[key] = true
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for key := range matrix {
		if !registered[key] {
			t.Errorf("the matrix has a row for %s, which the router does not register: remove it", key)
		}
	}
	for _, key := range keys {
		row, ok := matrix[key]
		if !ok {
			t.Errorf("add a row for %q to the authorization matrix (matrix_test.go)", key)
			continue
		}
		for _, who := range matrixCallers {
			if _, ok := row.want[who]; !ok {
				t.Errorf("%s: the matrix does not say what %s gets", key, who)
			}
		}
		method, route, _ := strings.Cut(key, " ")
		t.Run(strings.ReplaceAll(key, "/", "_"), func(t *testing.T) {
			t.Parallel()
			fx := newMatrixFixture(t, row)
			for _, who := range matrixCallers {
				want := row.want[who]
				r := fx.call(t, method, route, who)
				if r.Status != want {
					t.Errorf("%s as %s: status %d, want %d: %.300s", key, who, r.Status, want, r.Body)
					continue
				}
				if want >= 400 {
					checkEnvelope(t, r, key+" as "+who)
				}
			}
		})
	}
}

// checkEnvelope checks an error answer: the contract's envelope, a message,
// and the code that goes with the status.
func checkEnvelope(t testing.TB, r resp, what string) {
	t.Helper()
	var m struct {
		Error *struct {
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &m); err != nil || m.Error == nil || m.Error.Code == nil || m.Error.Message == nil {
		t.Errorf("%s: status %d without the error envelope: %.300q", what, r.Status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: error answered as %q, want application/json", what, ct)
	}
	code := *m.Error.Code
	if *m.Error.Message == "" {
		t.Errorf("%s: error %q without a message", what, code)
	}
	if !codeMatchesStatus(r.Status, code) {
		t.Errorf("%s: status %d with code %q, which the contract does not pair: %.300s", what, r.Status, code, r.Body)
	}
}

// codeMatchesStatus pairs statuses and codes as the contract lists them.
func codeMatchesStatus(status int, code string) bool {
	switch status {
	case http.StatusBadRequest:
		return code == "invalid_json" || code == "validation_failed"
	case http.StatusConflict:
		return code == "conflict" || code == "gate_failed"
	case http.StatusMethodNotAllowed:
		return code == "method_not_allowed"
	case http.StatusServiceUnavailable:
		return code == "unavailable"
	case http.StatusInternalServerError:
		return code == "internal"
	}
	want := codeFor(status)
	return want != "" && code == want
}
