package handlers_test

import (
	"fmt"
	"testing"
)

func TestWebhooksAPI(t *testing.T) {
	e := newEnv(t)
	w := e.world(1)
	pid := int64(e.must(200, "GET", fmt.Sprintf("/api/v1/builds/%d", w.bid), e.admin.Token, nil).JSON(t)["product_id"].(float64))
	base := fmt.Sprintf("/api/v1/products/%d/webhooks", pid)
	good := map[string]any{"url": "https://hooks.example.com/playgate", "events": []string{"feedback.critical", "change.flagged"}, "secret": "0123456789abcdef"}
	r := e.must(201, "POST", base, e.admin.Token, good).JSON(t)
	if r["format"] != "json" || r["secret"] != nil || len(r["events"].([]any)) != 2 {
		t.Fatalf("created: %v", r)
	}
	hid := int64(r["id"].(float64))
	for field, body := range map[string]map[string]any{
		"url":    {"url": "ftp://x", "events": []string{"change.flagged"}, "secret": "0123456789abcdef"},
		"events": {"url": "https://x.example", "events": []string{"build.exploded"}, "secret": "0123456789abcdef"},
		"secret": {"url": "https://x.example", "events": []string{"change.flagged"}, "secret": "short"},
		"format": {"url": "https://x.example", "events": []string{"change.flagged"}, "secret": "0123456789abcdef", "format": "xml"},
	} {
		wantError(t, e.do("POST", base, e.admin.Token, body), 400, "validation_failed", field)
	}
	if items := e.must(200, "GET", base, w.rm.Token, nil).Items(t); len(items) != 1 || items[0]["url"] != "https://hooks.example.com/playgate" {
		t.Fatalf("list: %v", items)
	}
	// A critical bug queues a delivery in the same transaction.
	e.bug(w.tester, w.bid, &w.changes[0], "critical", "Crash")
	if lag, err := e.store.OutboxLag(t.Context()); err != nil || lag < 0 {
		t.Fatalf("outbox: %v %v", lag, err)
	}
	due, err := e.store.DueDeliveries(t.Context(), 10, 0)
	if err != nil || len(due) != 2 || due[0].Item.Event+" "+due[1].Item.Event != "change.flagged feedback.critical" {
		t.Fatalf("queued: %+v %v", due, err)
	}
	e.must(200, "GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries", hid), e.admin.Token, nil)
	e.checkRoles(t, w, roleCase{method: "GET", path: static(base), want: roles(200, 200, 403, 403, 403)})
	e.checkRoles(t, w, roleCase{method: "GET", path: static(fmt.Sprintf("/api/v1/webhooks/%d/deliveries", hid)), want: roles(200, 200, 403, 403, 403)})
	e.checkRoles(t, w, roleCase{method: "POST", path: static(base), body: func(string) any { return good }, want: roles(201, 201, 403, 403, 403)})
	e.must(204, "DELETE", fmt.Sprintf("%s/%d", base, hid), e.admin.Token, nil)
	wantError(t, e.do("DELETE", fmt.Sprintf("%s/%d", base, hid), e.admin.Token, nil), 404, "not_found", "")
	wantError(t, e.do("GET", fmt.Sprintf("/api/v1/webhooks/%d/deliveries", hid), e.admin.Token, nil), 404, "not_found", "")
	wantError(t, e.do("POST", "/api/v1/products/999999/webhooks", e.admin.Token, good), 404, "not_found", "")
}
