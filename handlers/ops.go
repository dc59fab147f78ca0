package handlers

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"playgate/store"
)

// metrics are the Prometheus figures of one API.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	feedback prometheus.Counter
	votes    prometheus.Counter
	handler  http.Handler
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "playgate_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "playgate_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		feedback: prometheus.NewCounter(prometheus.CounterOpts{Name: "playgate_feedback_recorded_total", Help: "Feedback items recorded."}),
		votes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "playgate_votes_recorded_total", Help: "Votes recorded."}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.feedback, m.votes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if st != nil {
		for name, db := range st.Pools() {
			m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
		}
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "playgate_writer_queue_length", Help: "Writes waiting for the SQLite writer."},
				func() float64 { return float64(st.WriterStats().Queued) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "playgate_writer_batches_total", Help: "Group-commit transactions of the SQLite writer."},
				func() float64 { return float64(st.WriterStats().Batches) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "playgate_writer_writes_total", Help: "Writes run by the SQLite writer (writes / batches is the mean batch size)."},
				func() float64 { return float64(st.WriterStats().Writes) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "playgate_writer_fallbacks_total",
				Help: "Batches of bug reports or votes whose set-based run failed and ran again one write at a time (each a fault to look at)."},
				func() float64 { return float64(st.WriterStats().Fallbacks) }))
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (a *API) healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }

func (a *API) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		_ = c.Error(err)
		fail(c, http.StatusServiceUnavailable, "unavailable", "The database does not answer.")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (a *API) metricsHandler(c *gin.Context) { a.metrics.handler.ServeHTTP(c.Writer, c.Request) }

// noRoute answers unknown API paths with the envelope and every other GET
// with the UI: a file when it exists, else index.html for the UI's router.
func (a *API) noRoute(c *gin.Context) {
	p := c.Request.URL.Path
	if strings.HasPrefix(p, "/api/") || a.UI == nil || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
		notFound(c, "Route")
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		name = "index.html"
	}
	if st, err := fs.Stat(a.UI, name); err != nil || st.IsDir() {
		name = "index.html"
	}
	if name == "index.html" {
		c.Header("Cache-Control", "no-cache")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	f, err := a.UI.Open(name)
	if err != nil {
		notFound(c, "Page")
		return
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		_ = c.Error(fmt.Errorf("embedded file %s cannot seek", name))
		fail(c, http.StatusInternalServerError, "internal", "Something went wrong on our side; it has been logged.")
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		c.Header("Content-Type", ct)
	}
	// ServeContent, not FileServer: FileServer redirects /index.html.
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, rs)
}
