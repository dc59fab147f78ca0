package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"playgate/models"
	"playgate/store"
	"playgate/webhooks"
)

type receiver struct {
	mu       sync.Mutex
	failures int // answer 503 this many times first
	got      []received
}

type received struct {
	body                 []byte
	event, signature, id string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failures > 0 {
		r.failures--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.got = append(r.got, received{body: body, event: req.Header.Get("Playgate-Event"), signature: req.Header.Get("Playgate-Signature"), id: req.Header.Get("Playgate-Delivery")})
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// freshWorld is a store on a new folder with fixture's rows, and a
// receiver served over HTTP; both close when the test ends.
func freshWorld(t *testing.T) (st *store.Store, admin, product, build int64, rcv *receiver, srv *httptest.Server) {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	admin, product, build = fixture(t, st)
	rcv = &receiver{}
	srv = httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	return st, admin, product, build, rcv, srv
}

// fixture makes a product with a build in qc, and an admin.
func fixture(t *testing.T, st *store.Store) (admin, product, build int64) {
	t.Helper()
	ctx := context.Background()
	u := &models.User{Email: "admin@example.com", Name: "Admin", Role: models.RoleAdmin, PasswordHash: "x"}
	if err := st.CreateUser(ctx, nil, u); err != nil {
		t.Fatal(err)
	}
	p := &models.Product{Name: "Moon Karts", Slug: "moon-karts"}
	if err := st.CreateProduct(ctx, u.ID, p); err != nil {
		t.Fatal(err)
	}
	b := &models.Build{ProductID: p.ID, Version: "3.2.0", Policy: models.DefaultPolicy()}
	if err := st.CreateBuild(ctx, u.ID, b); err != nil {
		t.Fatal(err)
	}
	return u.ID, p.ID, b.ID
}

func fastWorker(st *store.Store) *webhooks.Worker {
	w := webhooks.New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w.Backoff = func(int) time.Duration { return 20 * time.Millisecond }
	w.Poll = 10 * time.Millisecond
	return w
}

// drainUntil runs the worker until cond holds.
func drainUntil(t *testing.T, w *webhooks.Worker, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestDeliveryRetriesAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	admin, product, build := fixture(t, st)
	rcv := &receiver{failures: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hook := &models.Webhook{ProductID: product, URL: srv.URL, Events: models.EventBuildPromoted, Secret: "a-very-secret-secret", Format: "json"}
	if err := st.CreateWebhook(ctx, admin, hook); err != nil {
		t.Fatal(err)
	}
	// The event is queued by the promotion's own transaction.
	if _, err := st.Promote(ctx, admin, build, models.StageStaging); err != nil {
		t.Fatal(err)
	}
	// First worker: one failed attempt, then the process "dies".
	w1 := fastWorker(st)
	if n, err := w1.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("first attempt: %d %v", n, err)
	}
	st.Close()

	// Restart: a new process on the same data folder resumes the outbox.
	st2, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	w2 := fastWorker(st2)
	drainUntil(t, w2, func() bool { return len(rcv.received()) == 1 })

	got := rcv.received()[0]
	var payload map[string]any
	if err := json.Unmarshal(got.body, &payload); err != nil {
		t.Fatal(err)
	}
	if got.event != "build.promoted" || payload["stage"] != "staging" || payload["version"] != "3.2.0" || payload["product"] != "Moon Karts" {
		t.Fatalf("delivery: %s %s", got.event, got.body)
	}
	// The signature is t=<unix>,v1=HMAC-SHA256(secret, "t.body").
	ts := strings.TrimPrefix(strings.Split(got.signature, ",")[0], "t=")
	var unix int64
	if err := json.Unmarshal([]byte(ts), &unix); err != nil {
		t.Fatalf("signature %q", got.signature)
	}
	if want := webhooks.Sign("a-very-secret-secret", unix, got.body); got.signature != want {
		t.Fatalf("signature %q, want %q", got.signature, want)
	}
	// Three attempts are logged: two failures, one success.
	ds, _, err := st2.Deliveries(ctx, hook.ID, store.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 3 || ds[0].StatusCode != 200 || ds[0].Attempt != 3 || ds[1].StatusCode != 503 || ds[2].Error == "" {
		t.Fatalf("deliveries: %+v", ds)
	}
	// Nothing is sent twice.
	if n, err := w2.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("after delivery: %d %v", n, err)
	}
}

func TestSlackFormatAndGivingUp(t *testing.T) {
	ctx := context.Background()
	st, admin, product, build, rcv, srv := freshWorld(t)
	slack := &models.Webhook{ProductID: product, URL: srv.URL, Events: "build.promoted,change.decided", Secret: "another-secret-value", Format: "slack"}
	dead := &models.Webhook{ProductID: product, URL: "http://127.0.0.1:1/unreachable", Events: "build.promoted", Secret: "another-secret-value", Format: "json"}
	for _, h := range []*models.Webhook{slack, dead} {
		if err := st.CreateWebhook(ctx, admin, h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Promote(ctx, admin, build, models.StageStaging); err != nil {
		t.Fatal(err)
	}
	w := fastWorker(st)
	w.GiveUpAfter = 100 * time.Millisecond
	drainUntil(t, w, func() bool {
		ds, _, _ := st.Deliveries(ctx, dead.ID, store.Page{Limit: 50})
		lag, _ := st.OutboxLag(ctx)
		return len(rcv.received()) == 1 && len(ds) > 0 && lag == 0
	})
	var msg map[string]string
	if err := json.Unmarshal(rcv.received()[0].body, &msg); err != nil || !strings.Contains(msg["text"], "Moon Karts build 3.2.0 was promoted to staging") {
		t.Fatalf("slack body: %s", rcv.received()[0].body)
	}
	// The unreachable receiver was given up on after its window.
	if n, _ := w.RunOnce(ctx); n != 0 {
		t.Fatalf("%d attempts after giving up", n)
	}
}

// A running worker is woken by the commit that queues a delivery, not by
// its poll, and writes that queue nothing leave it asleep.
func TestWorkerWokenByQueuedDelivery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, admin, product, build, rcv, srv := freshWorld(t)
	hook := &models.Webhook{ProductID: product, URL: srv.URL, Events: models.EventBuildPromoted, Secret: "a-very-secret-secret", Format: "json"}
	if err := st.CreateWebhook(ctx, admin, hook); err != nil {
		t.Fatal(err)
	}
	w := fastWorker(st)
	w.Poll = time.Hour
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// A write that queues nothing: the outbox wake stays unfired.
	waiting := st.OutboxChanged()
	if err := st.CreateProduct(ctx, admin, &models.Product{Name: "Other", Slug: "other"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-waiting:
		t.Fatal("a write that queued no delivery woke the worker")
	default:
	}
	if _, err := st.Promote(ctx, admin, build, models.StageStaging); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rcv.received()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the delivery waited for the hourly poll")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
