// Package webhooks delivers the outbox: events written in the same
// transaction as the changes that caused them, posted to each product's
// webhooks, signed, retried with exponential backoff for a day, and resumed
// after a restart.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"playgate/models"
	"playgate/store"
)

// Worker sends due outbox items. Several workers (replicas) may run at
// once: each item is leased to one of them at a time.
type Worker struct {
	Store  *store.Store
	Client *http.Client
	Log    *slog.Logger
	// Backoff is the wait before attempt n+1 after n failures.
	Backoff func(failures int) time.Duration
	// GiveUpAfter ends retries this long after the event was queued.
	GiveUpAfter time.Duration
	// Poll is how often to look for due items when nothing wakes the worker.
	Poll time.Duration

	delivered, failed prometheus.Counter
	lag               prometheus.Gauge
}

// New makes a worker with the production settings: 10 s doubling up to an
// hour between attempts, for 24 hours.
func New(st *store.Store, log *slog.Logger, reg prometheus.Registerer) *Worker {
	w := &Worker{
		Store:       st,
		Client:      &http.Client{Timeout: 10 * time.Second},
		Log:         log,
		Backoff:     ExponentialBackoff(10*time.Second, time.Hour),
		GiveUpAfter: 24 * time.Hour,
		Poll:        2 * time.Second,
		delivered:   prometheus.NewCounter(prometheus.CounterOpts{Name: "playgate_webhook_deliveries_total", Help: "Webhook deliveries that succeeded."}),
		failed:      prometheus.NewCounter(prometheus.CounterOpts{Name: "playgate_webhook_delivery_failures_total", Help: "Webhook delivery attempts that failed."}),
		lag:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "playgate_outbox_lag_seconds", Help: "Age of the oldest undelivered webhook event."}),
	}
	if reg != nil {
		reg.MustRegister(w.delivered, w.failed, w.lag)
	}
	return w
}

// ExponentialBackoff doubles from base up to max.
func ExponentialBackoff(base, max time.Duration) func(int) time.Duration {
	return func(failures int) time.Duration {
		d := base
		for i := 1; i < failures && d < max; i++ {
			d *= 2
		}
		return min(d, max)
	}
}

// Run delivers until ctx ends, then returns after the attempts under way.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.Poll)
	defer t.Stop()
	for {
		changed := w.Store.OutboxChanged()
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("webhook delivery", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

// Drain delivers what is due now, for a graceful shutdown.
func (w *Worker) Drain(ctx context.Context) error {
	for ctx.Err() == nil {
		n, err := w.RunOnce(ctx)
		if err != nil || n == 0 {
			return err
		}
	}
	return ctx.Err()
}

// RunOnce sends one batch of due items and tells how many it tried.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	lease := w.Client.Timeout + 30*time.Second
	due, err := w.Store.DueDeliveries(ctx, 20, lease)
	if err != nil {
		return 0, err
	}
	for i := range due {
		// Each attempt gets its own deadline, so a shutdown lets it finish.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Client.Timeout+time.Second)
		err := w.deliver(actx, &due[i])
		cancel()
		if err != nil {
			return i, err
		}
	}
	if lag, err := w.Store.OutboxLag(ctx); err == nil {
		w.lag.Set(lag.Seconds())
	}
	return len(due), nil
}

// Sign is the Playgate-Signature header: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">.
func Sign(secret string, t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t)
	mac.Write(body)
	return "t=" + strconv.FormatInt(t, 10) + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Body renders an item for its webhook's format.
func Body(format, event, payload string) ([]byte, error) {
	if format != "slack" {
		return []byte(payload), nil
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{"text": models.SlackText(event, p)})
}

func (w *Worker) deliver(ctx context.Context, p *store.Pending) error {
	it, hook := &p.Item, &p.Webhook
	attempt := it.Attempts + 1
	d := &models.Delivery{Attempt: attempt}
	body, err := Body(hook.Format, it.Event, it.Payload)
	start := time.Now()
	if err == nil {
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Playgate-Webhook/1")
			req.Header.Set("Playgate-Event", it.Event)
			req.Header.Set("Playgate-Delivery", strconv.FormatInt(it.ID, 10))
			req.Header.Set("Playgate-Signature", Sign(hook.Secret, time.Now().Unix(), body))
			var res *http.Response
			if res, err = w.Client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
				res.Body.Close()
				d.StatusCode = res.StatusCode
				if res.StatusCode < 200 || res.StatusCode > 299 {
					err = fmt.Errorf("the receiver answered %d", res.StatusCode)
				}
			}
		}
	}
	d.DurationMS = time.Since(start).Milliseconds()
	var next *time.Time
	if err != nil {
		d.Error = err.Error()
		w.failed.Inc()
		if at := time.Now().Add(w.Backoff(attempt)); at.Before(it.CreatedAt.Add(w.GiveUpAfter)) {
			next = &at
		}
	} else {
		w.delivered.Inc()
	}
	w.Log.Info("webhook attempt", "webhook_id", hook.ID, "delivery", it.ID, "event", it.Event, "attempt", attempt,
		"status", d.StatusCode, "error", d.Error, "gave_up", err != nil && next == nil)
	return w.Store.RecordDelivery(ctx, it, d, err == nil, next)
}
