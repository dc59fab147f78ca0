package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"playgate/models"
	"playgate/store"
)

// seedPassword is every seeded account's password unless --password or
// $PLAYGATE_PASSWORD says otherwise; it is printed at the end.
const seedPassword = "playgate-seed-password"

// seed fills the database with a realistic data set for benchmarks and
// demos: playgate seed --feedback N --votes N --changes N --testers N.
func seed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	spec := store.SeedSpec{}
	var password string
	var quiet bool
	c, _, err := loadConfig("seed", args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&spec.Feedback, "feedback", 10_000, "feedback items of the newest build")
		fs.IntVar(&spec.Votes, "votes", 2_000, "votes on the newest build's changes (distinct tester and change pairs)")
		fs.IntVar(&spec.Changes, "changes", 20, "changes of the newest build")
		fs.IntVar(&spec.Testers, "testers", 200, "testers granted the newest build")
		fs.IntVar(&spec.Builds, "builds", 3, "builds of the product; older ones get a fiftieth of the feedback and votes")
		fs.StringVar(&spec.Product, "product", "Starfall", "product name")
		fs.Uint64Var(&spec.Seed, "seed", 1, "random seed: the same seed makes the same data set")
		fs.StringVar(&password, "password", "", "every seeded account's password (default $PLAYGATE_PASSWORD, else "+seedPassword+")")
		fs.BoolVar(&spec.Recount, "recount", false, "rebuild every aggregate from the raw rows at the end (a cross-check; slow at a million items)")
		fs.BoolVar(&quiet, "quiet", false, "no progress lines")
	})
	if err != nil {
		return err
	}
	if spec.Feedback < 0 || spec.Votes < 0 || spec.Changes < 1 || spec.Testers < 1 || spec.Builds < 1 {
		return errors.New("seed needs --feedback and --votes ≥ 0, --changes, --testers and --builds ≥ 1")
	}
	if password == "" {
		password = os.Getenv("PLAYGATE_PASSWORD")
	}
	if password == "" {
		password = seedPassword
	}
	if len(password) < models.MinPasswordLength {
		return errors.New("the password must be at least 10 characters")
	}
	if spec.PasswordHash, err = models.HashPassword(password); err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if !quiet {
		last := time.Now()
		spec.Progress = func(table string, done, total int) {
			if time.Since(last) >= time.Second {
				last = time.Now()
				fmt.Fprintf(stderr, "seed: %s %d/%d\n", table, done, total)
			}
		}
	}
	res, err := st.Seed(ctx, spec)
	if err != nil {
		return err
	}
	secs := (res.Insert + res.Recount).Seconds()
	fmt.Fprintf(stdout, "seeded %d rows in %.1fs (%.0f rows/s) into the %s database", res.Total, secs, float64(res.Total)/secs, st.Dialect())
	if spec.Recount {
		fmt.Fprintf(stdout, " (insert %.1fs, recount %.1fs)", res.Insert.Seconds(), res.Recount.Seconds())
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "product %d (%s), builds %v, newest build %d: %d feedback, %d votes, %d changes, %d testers\n",
		res.ProductID, res.Slug, res.BuildIDs, res.BuildID, spec.Feedback, spec.Votes, spec.Changes, spec.Testers)
	fmt.Fprintf(stdout, "sign in as %v or %s with password %q\n", res.Staff, res.Testers, password)
	line, err := json.Marshal(struct {
		*store.SeedResult
		Seconds    float64 `json:"seconds"`
		RowsPerSec float64 `json:"rows_per_s"`
		Password   string  `json:"password"`
	}{res, secs, float64(res.Total) / secs, password})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return nil
}
