package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// seedSchema lists the database's tables, indexes and triggers with their
// definitions.
func seedSchema(t *testing.T, st *store.Store) string {
	t.Helper()
	q := "SELECT type || ' ' || name || ' ON ' || tbl_name || ': ' || sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
	if st.Dialect() == store.Postgres {
		q = `SELECT 'index ' || indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL SELECT 'trigger ' || trigger_name || ' ON ' || event_object_table || ': ' || action_statement
			FROM information_schema.triggers WHERE trigger_schema = current_schema() ORDER BY 1`
	}
	var rows []string
	if err := st.WriterDB().Raw(q).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	return strings.Join(rows, "\n")
}

// searchAll lists the ids of a build's items that a search finds.
func searchAll(t *testing.T, st *store.Store, buildID int64, q string) []int64 {
	t.Helper()
	var ids []int64
	page := store.Page{Limit: store.MaxLimit}
	for {
		items, next, err := st.ListFeedback(context.Background(), store.FeedbackFilter{BuildID: buildID, Q: q, Page: page})
		if err != nil {
			t.Fatal(err)
		}
		for _, fb := range items {
			ids = append(ids, fb.ID)
		}
		if next == "" {
			return ids
		}
		after, err := strconv.ParseInt(next, 10, 64)
		if err != nil {
			t.Fatalf("next page %q: %v", next, err)
		}
		page.After = after
	}
}

// TestSeedKeepsSchemaAndSearch checks that seeding, into empty tables (on
// SQLite the indexes and full-text triggers are dropped during the load
// and made again) and beside existing rows, leaves the schema a migration
// makes, the full-text index finding every seeded item, and a consistent
// database.
func TestSeedKeepsSchemaAndSearch(t *testing.T) {
	ctx := context.Background()
	st := openForTest(t)
	migrated := seedSchema(t, st)
	hash, err := models.HashPassword("seed-test-password")
	if err != nil {
		t.Fatal(err)
	}
	spec := store.SeedSpec{Feedback: 3000, Votes: 500, Changes: 10, Testers: 60, PasswordHash: hash}
	for round := 1; round <= 2; round++ {
		res, err := st.Seed(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := seedSchema(t, st); got != migrated {
			t.Fatalf("after seed %d the schema differs from the migrated one:\n%s\nwant:\n%s", round, got, migrated)
		}
		// "softlock" is a whole word of some titles only: the search must
		// find exactly the items that hold it.
		var want []int64
		err = st.WriterDB().Raw("SELECT id FROM feedback WHERE build_id = ? AND LOWER(title || ' ' || body) LIKE '%softlock%' ORDER BY id DESC",
			res.BuildID).Scan(&want).Error
		if err != nil {
			t.Fatal(err)
		}
		if got := searchAll(t, st, res.BuildID, "softlock"); len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d: search found %d items, want %d", round, len(got), len(want))
		}
		// Items filed after the seed are found too (the triggers are back).
		u, err := st.UserByEmail(ctx, strings.Replace(res.Testers, "{n}", "1", 1))
		if err != nil {
			t.Fatal(err)
		}
		fb, _, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: res.BuildID, TesterID: u.ID, Kind: "suggestion",
			Title: fmt.Sprintf("Zeppelinmode round %d", round), Body: "Filed after seeding."})
		if err != nil {
			t.Fatal(err)
		}
		if got := searchAll(t, st, res.BuildID, fmt.Sprintf("zeppelinmode round %d", round)); len(got) != 1 || got[0] != fb.ID {
			t.Fatalf("seed %d: an item filed after seeding is not found: %v", round, got)
		}
	}
	if st.Dialect() != store.SQLite {
		return
	}
	db := st.WriterDB()
	// rank 1 also compares the full-text index with the feedback table.
	if err := db.Exec("INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('integrity-check', 1)").Error; err != nil {
		t.Fatalf("full-text index: %v", err)
	}
	var check []string
	if err := db.Raw("PRAGMA integrity_check").Scan(&check).Error; err != nil || fmt.Sprint(check) != "[ok]" {
		t.Fatalf("integrity_check: %v %v", check, err)
	}
	var orphans []map[string]any
	if err := db.Raw("PRAGMA foreign_key_check").Scan(&orphans).Error; err != nil || len(orphans) > 0 {
		t.Fatalf("foreign_key_check: %v %v", orphans, err)
	}
	var config []string
	// The migrations' settings only: FTS5's own merges off (migration 8),
	// the writer's of 16 segments (migration 9).
	if err := db.Raw("SELECT k || '=' || v FROM feedback_fts_config WHERE k <> 'version' ORDER BY k").Scan(&config).Error; err != nil ||
		fmt.Sprint(config) != "[automerge=0 crisismerge=64 usermerge=16]" {
		t.Fatalf("the full-text settings changed: %v %v", config, err)
	}
	// Seeded values are written as SQL literals: each must be stored as the
	// driver stores it bound as a parameter, like an item filed through the
	// API (above).
	cols, err := db.Migrator().ColumnTypes("feedback")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		var kinds []string
		err := db.Raw(`SELECT DISTINCT typeof("` + c.Name() + `") || CASE WHEN typeof("` + c.Name() + `") = 'text' AND "` + c.Name() +
			`" GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:*' THEN ' time ' || SUBSTR("` + c.Name() + `", -6) ELSE '' END
			FROM feedback WHERE typeof("` + c.Name() + `") <> 'null' ORDER BY 1`).Scan(&kinds).Error
		if err != nil {
			t.Fatal(err)
		}
		if len(kinds) > 1 {
			t.Errorf("column %s holds values stored as %v", c.Name(), kinds)
		}
	}
}

// TestSeedIsReproducible checks that the same seed and clock make the same
// data set.
func TestSeedIsReproducible(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var dumps [2]string
	for i := range dumps {
		st := openForTest(t)
		st.SetClock(func() time.Time { return clock })
		spec := store.SeedSpec{Feedback: 2000, Votes: 300, Changes: 8, Testers: 40, PasswordHash: "$2a$10$not-a-real-hash", Seed: 7}
		if _, err := st.Seed(ctx, spec); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for _, table := range []string{"users", "builds", "changes", "votes", "feedback", "grants", "feedback_days"} {
			var rows []map[string]any
			order := "id"
			if table == "feedback_days" {
				order = "build_id, day"
			}
			if err := st.WriterDB().Raw("SELECT * FROM " + table + " ORDER BY " + order).Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				delete(r, "search") // PostgreSQL's generated tsvector
				fmt.Fprintln(&out, table, r)
			}
		}
		dumps[i] = out.String()
	}
	if dumps[0] != dumps[1] {
		t.Fatal("the same seed made different data sets")
	}
}

// TestSeedBesideAnotherConnection seeds empty tables while another
// connection has the database open: the load cannot leave WAL mode then
// (SQLite answers "database is locked" at once), and must load everything
// all the same.
func TestSeedBesideAnotherConnection(t *testing.T) {
	ctx := context.Background()
	st, other := openBesideAnother(t, "")
	var before int
	if err := other.QueryRow("SELECT COUNT(*) FROM feedback").Scan(&before); err != nil || before != 0 {
		t.Fatalf("%d items before the seed (%v)", before, err)
	}
	hash, err := models.HashPassword("seed-test-password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Seed(ctx, store.SeedSpec{Feedback: 2000, Votes: 300, Changes: 8, Testers: 30, PasswordHash: hash}); err != nil {
		t.Fatalf("seed beside another connection: %v", err)
	}
	var after int
	var mode string
	if err := other.QueryRow("SELECT COUNT(*) FROM feedback").Scan(&after); err != nil || after < 2000 {
		t.Fatalf("after the seed the other connection sees %d items (%v)", after, err)
	}
	if err := other.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q (%v), want wal", mode, err)
	}
}

// TestSeedBesideAWriter seeds empty tables while another connection keeps
// committing small writes: the load, whose transaction begins deferred
// (store/seedfts.go), takes the write lock before it reads anything, so it
// waits for the other's transactions instead of failing on a snapshot they
// made stale, and the other's writes wait for the load.
func TestSeedBesideAWriter(t *testing.T) {
	ctx := context.Background()
	st, other := openBesideAnother(t, "&_txlock=immediate")
	other.SetMaxOpenConns(1)
	if err := other.Ping(); err != nil { // open: the load stays in WAL mode
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			tx, err := other.Begin()
			if err == nil {
				_, err = tx.Exec("UPDATE schema_migrations SET name = name WHERE version = 1")
				time.Sleep(time.Millisecond) // holds the lock a while
				err = errors.Join(err, tx.Commit())
			}
			if err != nil {
				done <- fmt.Errorf("write %d: %w", n, err)
				return
			}
			time.Sleep(2 * time.Millisecond) // and lets others take it
		}
	}()
	_, err := st.Seed(ctx, store.SeedSpec{Feedback: 3000, Votes: 300, Changes: 8, Testers: 30, PasswordHash: "x"})
	close(stop)
	if werr := <-done; werr != nil {
		t.Errorf("the other connection's writes: %v", werr)
	}
	if err != nil {
		t.Fatalf("seed beside a writer: %v", err)
	}
	var n int
	if err := other.QueryRow("SELECT COUNT(*) FROM feedback").Scan(&n); err != nil || n < 3000 {
		t.Fatalf("after the seed the other connection sees %d items (%v)", n, err)
	}
}

// openBesideAnother opens a store on SQLite and another connection pool of
// its own to the same database file, with dsn added to its settings.
func openBesideAnother(t *testing.T, dsn string) (*store.Store, *sql.DB) {
	t.Helper()
	opts := testOptions(t)
	st := openWith(t, opts)
	if st.Dialect() != store.SQLite {
		t.Skip("SQLite only: another connection to the file")
	}
	other, err := sql.Open("sqlite", "file:"+filepath.Join(opts.DataDir, "playgate.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return st, other
}
