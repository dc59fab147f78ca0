package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// result is the JSON the command prints.
type result struct {
	Mix       string  `json:"mix"`
	C         int     `json:"c"`
	Target    string  `json:"target"`
	Build     int64   `json:"build"`
	Testers   int     `json:"testers"`
	Changes   int     `json:"changes"`
	WarmupS   float64 `json:"warmup_s"`
	DurationS float64 `json:"duration_s"`
	stats
	Ops    map[string]*stats `json:"ops,omitempty"`
	Check  *check            `json:"check,omitempty"`
	Export *exportResult     `json:"export,omitempty"`
	// Setup and server figures (RSS only when -start).
	SetupS  float64 `json:"setup_s"`
	ReadyMS float64 `json:"ready_ms,omitempty"`
	// RestartReadyMS: after the setup the server is restarted, so the run's
	// memory figures do not include the setup's password hashing.
	RestartReadyMS float64 `json:"restart_ready_ms,omitempty"`
	RSSSetupMiB    float64 `json:"rss_setup_peak_mib,omitempty"`
	RSSBeforeMiB   float64 `json:"rss_before_mib,omitempty"`
	RSSPeakMiB     float64 `json:"rss_peak_mib,omitempty"`
	RSSEndMiB      float64 `json:"rss_end_mib,omitempty"`
	LoadgenCPUS    float64 `json:"loadgen_cpu_s"`
	// CPU time per request of the measured window: the load generator's
	// (this process) and, with -start, the server's. Steadier than
	// requests/s on a noisy machine, for comparing two builds.
	LoadgenCPUPerReq float64 `json:"loadgen_cpu_us_per_request,omitempty"`
	ServerCPUPerReq  float64 `json:"server_cpu_us_per_request,omitempty"`
}

// stats are one kind of request's figures over the measured window.
type stats struct {
	Requests int            `json:"requests"`
	RPS      float64        `json:"rps"`
	Mean     float64        `json:"mean_ms"`
	P50      float64        `json:"p50_ms"`
	P90      float64        `json:"p90_ms"`
	P99      float64        `json:"p99_ms"`
	Max      float64        `json:"max_ms"`
	Non2xx   int            `json:"non2xx"`
	Errors   int            `json:"errors"`
	Status   map[string]int `json:"status"`
	LastErr  string         `json:"last_error,omitempty"`
	lat      []time.Duration
}

// check compares acknowledged writes (warm-up included) with stored rows.
type check struct {
	FeedbackAcked   int `json:"feedback_acked"`
	FeedbackUnknown int `json:"feedback_unknown"`
	FeedbackStored  int `json:"feedback_stored"`
	VotePairsAcked  int `json:"vote_pairs_acked"`
	VotePairsUnsure int `json:"vote_pairs_unknown"`
	VotesStored     int `json:"votes_stored"`
	// With a tester per worker the last acknowledged vote of each pair is
	// known, so keep and revert are checked apart.
	KeepExpected int  `json:"keep_expected"`
	KeepStored   int  `json:"keep_stored"`
	OK           bool `json:"ok"`
}

type exportResult struct {
	Rows          int     `json:"rows"`
	Bytes         int64   `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	RowsPerSec    float64 `json:"rows_per_s"`
	FirstByteMS   float64 `json:"first_byte_ms"`
	RSSGrowthMiB  float64 `json:"rss_growth_mib,omitempty"`
	ServerPeakMiB float64 `json:"server_peak_mib,omitempty"`
}

const (
	opFeedback = iota
	opVote
	opReport
	opList
	nOps
)

var opNames = [nOps]string{"feedback", "vote", "report", "list"}

// pair is one tester's vote on one change.
type pair struct {
	tester int
	change int64
}

// worker is one closed-loop connection's state.
type worker struct {
	id     int
	ops    [nOps]stats
	acked  int // feedback 201s
	lost   int // feedback with an unknown outcome
	votes  map[pair]string
	unsure map[pair]bool
	buf    []byte
}

// runLoad runs the closed loop: warm-up, then the measured window.
// serverCPU, when not nil, reads the server's CPU time in seconds.
func runLoad(ctx context.Context, cl *client, fx *fixture, o *options, res *result, serverCPU func() float64) error {
	before, err := cl.report(ctx, fx)
	if err != nil {
		return err
	}
	fx.before = before
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now()
	measure, end := t0.Add(o.warmup), t0.Add(o.warmup+o.d)
	// The CPU times when the measured window opens.
	var mine0, server0 float64
	opened := make(chan struct{})
	time.AfterFunc(o.warmup, func() {
		mine0, server0 = ownCPU(), readCPU(serverCPU)
		close(opened)
	})
	workers := make([]*worker, o.c)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{id: i, votes: map[pair]string{}, unsure: map[pair]bool{}}
		for k := range w.ops {
			w.ops[k].Status = map[string]int{}
		}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, cl, fx, o, measure, end)
		}()
	}
	wg.Wait()
	<-opened
	mine1, server1 := ownCPU(), readCPU(serverCPU)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	res.LoadgenCPUS = cpu(ru1) - cpu(ru0)
	res.WarmupS, res.DurationS = o.warmup.Seconds(), o.d.Seconds()
	res.Ops = map[string]*stats{}
	all := &res.stats
	all.Status = map[string]int{}
	ck := &check{}
	votes := map[pair]string{}
	unsure := map[pair]bool{}
	for _, w := range workers {
		for k := range w.ops {
			s := &w.ops[k]
			if s.Requests == 0 && s.Errors == 0 {
				continue
			}
			agg := res.Ops[opNames[k]]
			if agg == nil {
				agg = &stats{Status: map[string]int{}}
				res.Ops[opNames[k]] = agg
			}
			for _, into := range []*stats{agg, all} {
				into.lat = append(into.lat, s.lat...)
				into.Non2xx += s.Non2xx
				into.Errors += s.Errors
				for code, n := range s.Status {
					into.Status[code] += n
				}
				if s.LastErr != "" {
					into.LastErr = s.LastErr
				}
			}
		}
		ck.FeedbackAcked += w.acked
		ck.FeedbackUnknown += w.lost
		for p, v := range w.votes {
			votes[p] = v // a tester belongs to one worker when testers ≥ c
		}
		for p := range w.unsure {
			unsure[p] = true
		}
	}
	for _, s := range res.Ops {
		s.finish(o.d)
	}
	all.finish(o.d)
	if all.Requests > 0 {
		res.LoadgenCPUPerReq = round1((mine1 - mine0) * 1e6 / float64(all.Requests))
		if serverCPU != nil {
			res.ServerCPUPerReq = round1((server1 - server0) * 1e6 / float64(all.Requests))
		}
	}
	ck.VotePairsAcked = len(votes)
	for p := range unsure {
		if _, ok := votes[p]; !ok {
			ck.VotePairsUnsure++
		}
	}
	for _, v := range votes {
		if v == "keep" {
			ck.KeepExpected++
		}
	}
	res.Check = ck
	return nil
}

func cpu(r syscall.Rusage) float64 {
	return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e9
}

// ownCPU is this process's CPU time in seconds.
func ownCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpu(ru)
}

func readCPU(f func() float64) float64 {
	if f == nil {
		return 0
	}
	return f()
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func (w *worker) loop(ctx context.Context, cl *client, fx *fixture, o *options, measure, end time.Time) {
	var feedbackN, voteN int
	token := ""
	tester := -1
	if len(fx.testers) > 0 {
		tester = w.id % len(fx.testers)
		token = fx.testers[tester]
	}
	fixed := map[string]int{"feedback": opFeedback, "vote": opVote, "report": opReport, "list": opList}[o.mix]
	for i := 0; ctx.Err() == nil; i++ {
		start := time.Now()
		if !start.Before(end) {
			return
		}
		op := fixed
		if o.mix == "mixed" {
			op = (w.id + i) % 3
		}
		var status int
		var err error
		var p pair
		var vote string
		switch op {
		case opFeedback:
			feedbackN++
			w.buf = feedbackBody(w.buf[:0], o.kind, w.id, feedbackN, fx.changes)
			key := strconv.Itoa(w.id) + "-" + strconv.Itoa(feedbackN) + "-" + strconv.FormatInt(start.UnixNano(), 36)
			status, err = cl.call(ctx, "POST", "/api/v1/builds/"+strconv.FormatInt(fx.build, 10)+"/feedback", token, w.buf, nil, "Idempotency-Key", key)
		case opVote:
			// Each worker walks the changes; every lap flips its votes,
			// so repeated pairs exercise the update path too.
			lap, j := voteN/len(fx.changes), (w.id*7+voteN)%len(fx.changes)
			voteN++
			vote = "keep"
			if (lap+w.id+j)%3 == 0 {
				vote = "revert"
			}
			p = pair{tester, fx.changes[j]}
			w.buf = append(append(append(w.buf[:0], `{"vote":"`...), vote...), `"}`...)
			status, err = cl.call(ctx, "PUT", "/api/v1/changes/"+strconv.FormatInt(p.change, 10)+"/vote", token, w.buf, nil)
		case opReport:
			status, err = cl.call(ctx, "GET", "/api/v1/builds/"+strconv.FormatInt(fx.build, 10)+"/report", fx.admin, nil, nil)
		case opList:
			status, err = cl.call(ctx, "GET", "/api/v1/builds/"+strconv.FormatInt(fx.build, 10)+"/feedback?"+o.listQuery, fx.admin, nil, nil)
		}
		el := time.Since(start)
		switch {
		case op == opFeedback && err == nil && status == http.StatusCreated:
			w.acked++
		case op == opFeedback && (err != nil || status >= 500):
			w.lost++ // it may or may not have committed
		case op == opVote && err == nil && status == http.StatusOK:
			w.votes[p] = vote
			delete(w.unsure, p)
		case op == opVote && (err != nil || status >= 500):
			w.unsure[p] = true
		}
		if start.Before(measure) {
			continue
		}
		s := &w.ops[op]
		s.Requests++
		s.lat = append(s.lat, el)
		if err != nil {
			s.Errors++
			s.LastErr = err.Error()
			continue
		}
		s.Status[strconv.Itoa(status)]++
		if status < 200 || status > 299 {
			s.Non2xx++
		}
	}
}

// feedbackBody is a valid bug report (or suggestion) of about 300 bytes,
// like the naive reference server's, unique per request.
func feedbackBody(b []byte, kind string, worker, n int, changes []int64) []byte {
	if kind == "bug" {
		b = append(b, `{"kind":"bug","severity":"`...)
		b = append(b, [...]string{"low", "medium", "high", "critical"}[n%4]...)
		b = append(b, '"')
	} else {
		b = append(b, `{"kind":"suggestion"`...)
	}
	b = append(b, `,"title":"Crash when opening inventory after level 3 (#`...)
	b = strconv.AppendInt(b, int64(worker), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `)","body":"Steps: open the inventory right after the level-3 cutscene ends; the game freezes for about two seconds, then crashes to desktop. Happens 3 of 5 tries on this build. Expected: inventory opens."`...)
	if len(changes) > 0 {
		b = append(b, `,"change_id":`...)
		b = strconv.AppendInt(b, changes[(worker+n)%len(changes)], 10)
	}
	b = append(b, `,"platform":{"os":"Windows 11","device":"RTX 3060 laptop","client_version":"1.0.0"}}`...)
	return b
}

// finish sorts the latencies into percentiles.
func (s *stats) finish(d time.Duration) {
	s.Requests = len(s.lat)
	s.RPS = float64(s.Requests) / d.Seconds()
	if len(s.lat) == 0 {
		return
	}
	sort.Slice(s.lat, func(i, j int) bool { return s.lat[i] < s.lat[j] })
	pct := func(p float64) float64 {
		i := min(len(s.lat)-1, max(0, int(p*float64(len(s.lat))+0.5)-1))
		return ms(s.lat[i])
	}
	var sum time.Duration
	for _, l := range s.lat {
		sum += l
	}
	s.Mean, s.P50, s.P90, s.P99, s.Max = ms(sum/time.Duration(len(s.lat))), pct(0.50), pct(0.90), pct(0.99), ms(s.lat[len(s.lat)-1])
	s.lat = nil
}

// runExport downloads the build's CSV once and counts its records.
func runExport(ctx context.Context, cl *client, fx *fixture, res *result) error {
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/builds/%d/feedback.csv", cl.base, fx.build), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+fx.admin)
	hc := &http.Client{Transport: cl.http.Transport} // no timeout: a big export streams for a while
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("export: status %d", resp.StatusCode)
	}
	first := time.Since(start)
	ex := &exportResult{FirstByteMS: ms(first)}
	buf := make([]byte, 256<<10)
	inQuote, lines := false, 0
	for {
		n, err := resp.Body.Read(buf)
		for _, c := range buf[:n] {
			switch {
			case c == '"':
				inQuote = !inQuote
			case c == '\n' && !inQuote:
				lines++
			}
		}
		ex.Bytes += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	el := time.Since(start)
	ex.Rows = max(0, lines-1) // the header
	ex.Seconds = el.Seconds()
	ex.RowsPerSec = float64(ex.Rows) / el.Seconds()
	res.Export = ex
	res.Requests, res.DurationS = 1, el.Seconds()
	return nil
}

// verify compares stored rows with acknowledged writes, through the report.
func verify(ctx context.Context, cl *client, fx *fixture, res *result) error {
	if res.Export != nil && res.RSSBeforeMiB > 0 {
		res.Export.ServerPeakMiB = res.RSSPeakMiB
		res.Export.RSSGrowthMiB = res.RSSPeakMiB - res.RSSBeforeMiB
	}
	ck := res.Check
	if ck == nil || fx.before == nil {
		return nil
	}
	after, err := cl.report(ctx, fx)
	if err != nil {
		return err
	}
	ck.FeedbackStored = after.Totals.Feedback - fx.before.Totals.Feedback
	beforeVotes := map[int64][2]int{}
	for _, c := range fx.before.Changes {
		beforeVotes[c.Change.ID] = [2]int{c.Votes.Keep, c.Votes.Revert}
	}
	for _, c := range after.Changes {
		b := beforeVotes[c.Change.ID]
		ck.KeepStored += c.Votes.Keep - b[0]
		ck.VotesStored += c.Votes.Keep + c.Votes.Revert - b[0] - b[1]
	}
	within := func(stored, acked, unknown int) bool { return stored >= acked && stored <= acked+unknown }
	ck.OK = within(ck.FeedbackStored, ck.FeedbackAcked, ck.FeedbackUnknown) &&
		within(ck.VotesStored, ck.VotePairsAcked, ck.VotePairsUnsure)
	if len(fx.testers) >= res.C && ck.VotePairsUnsure == 0 {
		ck.OK = ck.OK && ck.KeepStored == ck.KeepExpected
	}
	return nil
}
