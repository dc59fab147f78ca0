package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"playgate/models"
	"playgate/store"
)

// seedAggregates reads every aggregate Seed writes, as text.
func seedAggregates(t *testing.T, st *store.Store) string {
	t.Helper()
	var out strings.Builder
	for _, q := range []string{
		"SELECT id, keep_votes, revert_votes, open_low, open_medium, open_high, open_critical FROM changes ORDER BY id",
		"SELECT id, feedback_count, bugs_low, bugs_medium, bugs_high, bugs_critical FROM builds ORDER BY id",
		"SELECT id, feedback_count, vote_count, last_active_at FROM grants ORDER BY id",
		"SELECT id, duplicates FROM feedback WHERE duplicates > 0 ORDER BY id",
		"SELECT build_id, day, feedback FROM feedback_days ORDER BY build_id, day",
	} {
		var rows []map[string]any
		if err := st.WriterDB().Raw(q).Scan(&rows).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, r := range rows {
			fmt.Fprintln(&out, q[:20], fmt.Sprint(r))
		}
	}
	return out.String()
}

// TestSeedMatchesRecount checks that the aggregates Seed keeps as it
// writes are those Recount computes from the raw rows, and that the data
// set has what benchmarks and demos rely on.
func TestSeedMatchesRecount(t *testing.T) {
	ctx := context.Background()
	st := openForTest(t)
	hash, err := models.HashPassword("seed-test-password")
	if err != nil {
		t.Fatal(err)
	}
	spec := store.SeedSpec{Feedback: 4000, Votes: 700, Changes: 12, Testers: 80, PasswordHash: hash}
	res, err := st.Seed(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Seed(ctx, spec); err != nil { // a second product beside the first
		t.Fatalf("second seed: %v", err)
	}
	before := seedAggregates(t, st)
	if err := st.Recount(ctx); err != nil {
		t.Fatal(err)
	}
	if after := seedAggregates(t, st); after != before {
		t.Fatalf("seeded aggregates differ from a recount:\nseeded:\n%s\nrecounted:\n%s", before, after)
	}
	d, err := st.Report(ctx, res.BuildID)
	if err != nil {
		t.Fatal(err)
	}
	votes := 0
	for _, c := range d.Changes {
		votes += c.KeepVotes + c.RevertVotes
	}
	b := d.Build
	if b.FeedbackCount != spec.Feedback || votes != spec.Votes || len(d.Changes) != spec.Changes || d.TestersGranted != int64(spec.Testers) {
		t.Fatalf("newest build has %d feedback, %d votes, %d changes, %d testers; want %+v", b.FeedbackCount, votes, len(d.Changes), d.TestersGranted, spec)
	}
	if b.BugsLow == 0 || b.BugsMedium == 0 || b.BugsHigh == 0 || b.BugsCritical == 0 || len(d.Timeline) < 10 {
		t.Fatalf("want bugs of every severity and a timeline of days: %+v, %d days", b, len(d.Timeline))
	}
	var statuses []string
	if err := st.WriterDB().Raw("SELECT DISTINCT status FROM feedback WHERE build_id = ? ORDER BY status", res.BuildID).Scan(&statuses).Error; err != nil {
		t.Fatal(err)
	}
	if len(statuses) != len(models.Statuses) {
		t.Fatalf("statuses %v, want all of %v", statuses, models.Statuses)
	}
	u, err := st.UserByEmail(ctx, strings.Replace(res.Testers, "{n}", "1", 1))
	if err != nil || !models.CheckPassword(u.PasswordHash, "seed-test-password") {
		t.Fatalf("tester 1 cannot sign in with the seed password: %v", err)
	}
}
