package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// Stream timings: heartbeats keep proxies from closing an idle stream; the
// poll catches events committed by other replicas.
const (
	heartbeatEvery = 25 * time.Second
	pollEvery      = time.Second
)

// events streams a build's events as Server-Sent Events. A client that
// reconnects with Last-Event-ID (header, or ?last_event_id=) gets every
// event after it from the last hour; a new client starts from now.
func (a *API) events(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	ctx := c.Request.Context()
	last := int64(-1)
	for _, v := range []string{c.GetHeader("Last-Event-ID"), c.Query("last_event_id")} {
		if v == "" {
			continue
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 0 {
			invalid(c, map[string]string{"Last-Event-ID": "must be an event id this stream sent"})
			return
		}
		last = id
	}
	if last < 0 {
		id, err := a.store.LastEventID(ctx, b.ID)
		if err != nil {
			a.answer(c, err)
			return
		}
		last = id
	}
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\n: build %d\n\n", b.ID)
	w.Flush()
	// The stream outlives the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})

	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	for {
		changed := a.store.Changed()
		evs, err := a.store.Events(ctx, b.ID, last, 500)
		if err != nil {
			if ctx.Err() == nil {
				_ = c.Error(err)
			}
			return
		}
		for _, ev := range evs {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data)
			last = ev.ID
		}
		if len(evs) > 0 {
			w.Flush()
		}
		if len(evs) == 500 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.closing:
			return
		case <-changed:
		case <-poll.C:
		case <-heartbeat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
			w.Flush()
		}
	}
}
