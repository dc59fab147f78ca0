// Command playgate-bench measures a Playgate server under load, through its
// public API only, and checks afterwards that what the server acknowledged
// is what it stored.
//
//	go run ./cmd/playgate-bench -start -mix feedback -c 64 -d 15s
//	go run ./cmd/playgate-bench -url http://127.0.0.1:8080 -admin-email E -admin-password P -mix mixed
//
// With -start it builds playgate, starts it on a temporary data folder (or
// -data) with PLAYGATE_RATE_LIMITS=off, and reads the server's peak RSS from
// /proc. It prepares a product, a build, changes and testers (invites and
// redeems), or uses -build, then runs a closed loop: each of -c workers
// sends its next request as soon as the last one is answered. It prints one
// JSON object. See docs/PERFORMANCE.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	url, bin, data, serverLog string
	db                        string
	start, keep               bool
	adminEmail, adminPassword string
	mix                       string
	c, testers, changes       int
	d, warmup                 time.Duration
	build                     int64
	listQuery, fixtureOut     string
	kind                      string
	timeout                   time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "playgate-bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("playgate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "base URL of a running server (e.g. http://127.0.0.1:8080)")
	fs.BoolVar(&o.start, "start", false, "build and start playgate on a temporary data folder, with rate limits off")
	fs.StringVar(&o.bin, "bin", "", "with -start: the playgate binary to run (default: go build ./cmd/playgate)")
	fs.StringVar(&o.data, "data", "", "with -start: data folder to serve (default: a new temporary one, removed at the end)")
	fs.StringVar(&o.db, "db", "", "with -start: PLAYGATE_DB for the server (a postgres:// URL; default SQLite in the data folder)")
	fs.StringVar(&o.serverLog, "server-log", "", "with -start: file for the server's log (default: in the temporary folder)")
	fs.BoolVar(&o.keep, "keep", false, "with -start: keep the temporary folder")
	fs.StringVar(&o.adminEmail, "admin-email", envOr("PLAYGATE_ADMIN_EMAIL", "bench-admin@example.com"), "admin to sign in as")
	fs.StringVar(&o.adminPassword, "admin-password", envOr("PLAYGATE_ADMIN_PASSWORD", "bench-admin-password"), "the admin's password")
	fs.StringVar(&o.mix, "mix", "feedback", "feedback, vote, report, mixed (1:1:1 of the three), list (a feedback page) or export (one CSV download)")
	fs.IntVar(&o.c, "c", 64, "connections (closed-loop workers)")
	fs.DurationVar(&o.d, "d", 15*time.Second, "measured duration")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "warm-up before measuring (its writes are checked, not timed)")
	fs.StringVar(&o.kind, "kind", "bug", "kind of the feedback sent: bug (with a severity; the issue's workload) or suggestion (no severity, no open-bug counts)")
	fs.IntVar(&o.testers, "testers", 0, "testers to invite (default: one per connection)")
	fs.IntVar(&o.changes, "changes", 20, "changes of the prepared build")
	fs.Int64Var(&o.build, "build", 0, "use this existing build instead of preparing one (e.g. a seeded one)")
	fs.StringVar(&o.listQuery, "list-query", "limit=50", "with -mix list: the query string of the feedback list")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.StringVar(&o.fixtureOut, "fixture-out", "", "write the build, changes and tokens as JSON to this file (to drive other load tools)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (o.url == "") == !o.start {
		return errors.New("give either -url or -start")
	}
	if o.testers <= 0 {
		o.testers = o.c
	}
	if o.c < 1 || o.changes < 1 {
		return errors.New("-c and -changes must be at least 1")
	}
	if o.kind != "bug" && o.kind != "suggestion" {
		return errors.New("-kind must be bug or suggestion")
	}
	switch o.mix {
	case "feedback", "vote", "report", "mixed", "list", "export":
	default:
		return fmt.Errorf("unknown -mix %q", o.mix)
	}

	res := &result{Mix: o.mix, C: o.c, Target: o.url}
	var srv *server
	if o.start {
		var err error
		if srv, err = startServer(ctx, &o, stderr); err != nil {
			return err
		}
		defer srv.stop(stderr)
		res.Target, res.ReadyMS = srv.url, ms(srv.ready)
		o.url = srv.url
	}
	cl := newClient(o.url, o.c, o.timeout)
	setupStart := time.Now()
	fx, err := prepare(ctx, cl, &o, stderr)
	if err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	res.Build, res.Testers, res.Changes = fx.build, len(fx.testers), len(fx.changes)
	res.SetupS = time.Since(setupStart).Seconds()
	if o.fixtureOut != "" {
		b, err := json.Marshal(map[string]any{"build": fx.build, "changes": fx.changes, "admin_token": fx.admin, "tester_tokens": fx.testers})
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.fixtureOut, b, 0o600); err != nil {
			return err
		}
	}
	if srv != nil {
		res.RSSSetupMiB = srv.peakRSS()
		if fx.testers != nil { // the redeems hashed passwords: measure from a fresh process
			if err := srv.restart(ctx); err != nil {
				return err
			}
			res.RestartReadyMS = ms(srv.ready)
		}
		srv.resetPeak()
		res.RSSBeforeMiB = srv.rss()
	}

	if o.mix == "export" {
		err = runExport(ctx, cl, fx, res)
	} else {
		var serverCPU func() float64
		if srv != nil {
			serverCPU = srv.cpuSeconds
		}
		err = runLoad(ctx, cl, fx, &o, res, serverCPU)
	}
	if err != nil {
		return err
	}
	if srv != nil {
		res.RSSPeakMiB = srv.peakRSS()
		res.RSSEndMiB = srv.rss()
	}
	if err := verify(ctx, cl, fx, res); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	if res.Check != nil && !res.Check.OK {
		return errors.New("stored rows differ from acknowledged writes")
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
