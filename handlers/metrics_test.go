package handlers_test

import (
	"strings"
	"testing"
)

func TestMetricsExposition(t *testing.T) {
	e := newEnv(t)
	bid, _ := e.build(1)
	tt := e.tester(bid)
	e.bug(tt, bid, nil, "low", "Counted")
	body := string(e.must(200, "GET", "/metrics", "", nil).Body)
	for _, want := range []string{
		`playgate_http_requests_total{method="POST",route="/api/v1/builds/:id/feedback",status="201"} 1`,
		`playgate_http_request_duration_seconds_bucket{method="POST",route="/api/v1/builds/:id/feedback"`,
		"playgate_feedback_recorded_total 1",
		"go_sql_open_connections{db_name=",
		"playgate_writer_queue_length",
		"playgate_writer_writes_total",
		"playgate_writer_fallbacks_total 0",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
