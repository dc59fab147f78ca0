package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchCommand runs the benchmark command as the performance guide
// does, briefly: each ingest mix against a server it starts, and the read
// mixes against a seeded folder. The figures are not judged (tests are no
// place for timing); what is checked is that the command works: every
// request answered 2xx, stored rows equal the acknowledged writes, and the
// JSON carries what the guide reads from it.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the playgate binary (skipped with -short)")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give either -url or -start"},
		{[]string{"-start", "-url", "http://127.0.0.1:1"}, "give either -url or -start"},
		{[]string{"-start", "-mix", "everything"}, `unknown -mix "everything"`},
		{[]string{"-start", "-c", "0"}, "-c and -changes must be at least 1"},
		{[]string{"-start", "-kind", "praise"}, "-kind must be bug or suggestion"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) || stdout.Len() > 0 {
			t.Errorf("playgate-bench %v: %v (stdout %q), want an error saying %q", tc.args, err, stdout.String(), tc.want)
		}
	}

	bin := filepath.Join(t.TempDir(), "playgate")
	if out, err := exec.Command("go", "build", "-o", bin, "playgate/cmd/playgate").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("ingest", func(t *testing.T) {
		for _, mix := range []string{"feedback", "vote", "mixed"} {
			t.Run(mix, func(t *testing.T) {
				t.Parallel()
				res := bench(t, "-start", "-bin", bin, "-mix", mix, "-c", "3", "-d", "1s", "-warmup", "200ms")
				if res.Requests == 0 || res.RPS <= 0 || res.Non2xx != 0 || res.Errors != 0 {
					t.Errorf("%s: %d requests, %.0f/s, %d non-2xx, %d errors", mix, res.Requests, res.RPS, res.Non2xx, res.Errors)
				}
				if res.Check == nil || !res.Check.OK || res.Check.FeedbackStored+res.Check.VotesStored == 0 {
					t.Errorf("%s: check %+v", mix, res.Check)
				}
				if res.RSSPeakMiB <= 0 || res.ReadyMS <= 0 {
					t.Errorf("%s: rss_peak_mib %v, ready_ms %v", mix, res.RSSPeakMiB, res.ReadyMS)
				}
				if res.ServerCPUPerReq <= 0 || res.LoadgenCPUPerReq <= 0 {
					t.Errorf("%s: CPU per request: server %v µs, load generator %v µs", mix, res.ServerCPUPerReq, res.LoadgenCPUPerReq)
				}
				if want := map[string]int{"feedback": 1, "vote": 1, "mixed": 3}[mix]; len(res.Ops) != want {
					t.Errorf("%s: ops %v, want %d kinds", mix, res.Ops, want)
				}
			})
		}
	})

	data := t.TempDir()
	if out, err := exec.Command(bin, "seed", "--quiet", "--data", data, "--feedback", "600", "--votes", "100",
		"--changes", "5", "--testers", "20").CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	seeded := []string{"-start", "-bin", bin, "-data", data, "-admin-email", "admin@starfall.seed.test",
		"-admin-password", "playgate-seed-password", "-build", "3"}
	res := bench(t, append(seeded, "-mix", "export")...)
	if res.Export == nil || res.Export.Rows != 600 || res.Export.Bytes == 0 {
		t.Errorf("export of the seeded build: %+v, want 600 rows", res.Export)
	}
	res = bench(t, append(seeded, "-mix", "list", "-c", "2", "-d", "500ms", "-warmup", "100ms", "-list-query", "limit=50&kind=bug")...)
	if res.Requests == 0 || res.Non2xx != 0 || res.Errors != 0 {
		t.Errorf("list of the seeded build: %d requests, %d non-2xx, %d errors", res.Requests, res.Non2xx, res.Errors)
	}
}

// bench runs the command with args and decodes its JSON line.
func bench(t *testing.T, args ...string) *result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("playgate-bench %v: %v\n%s", args, err, stderr.String())
	}
	res := &result{}
	if err := json.Unmarshal(stdout.Bytes(), res); err != nil {
		t.Fatalf("playgate-bench %v printed %q: %v", args, stdout.String(), err)
	}
	return res
}
