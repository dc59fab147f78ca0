package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// ingestWorld is a product with a webhook, an open build with three
// changes, a second open build, a closed build, and testers: t1 and t2 on
// every build, t3 revoked from the open build, t4 on the second build only.
type ingestWorld struct {
	open, other, closed    int64
	c1, c2, c3, cOther, cc int64
	t1, t2, t3, t4         int64
}

func newIngestWorld(t testing.TB, s *Store) ingestWorld {
	t.Helper()
	ctx := context.Background()
	var w ingestWorld
	admin := &models.User{Email: "admin@example.com", Name: "Admin", Role: models.RoleAdmin, PasswordHash: "x"}
	must(t, s.CreateUser(ctx, nil, admin))
	p := &models.Product{Name: "Game", Slug: "game"}
	must(t, s.CreateProduct(ctx, admin.ID, p))
	must(t, s.CreateWebhook(ctx, admin.ID, &models.Webhook{ProductID: p.ID, URL: "https://hooks.example.com/x",
		Events: models.EventChangeFlagged + "," + models.EventFeedbackCritical, Secret: "0123456789abcdef", Format: "json"}))
	policy := models.Policy{MinVotes: 2, RevertThreshold: 0.3, Confidence: 0.95, BlockSeverity: models.SeverityCritical}
	build := func(version string, closes *time.Time) int64 {
		b := &models.Build{ProductID: p.ID, Version: version, Policy: policy, ClosesAt: closes}
		must(t, s.CreateBuild(ctx, admin.ID, b))
		return b.ID
	}
	change := func(bid int64, key string) int64 {
		c := &models.Change{BuildID: bid, Key: key, Title: "Change " + key}
		must(t, s.CreateChange(ctx, admin.ID, c))
		return c.ID
	}
	past := s.now().Add(-time.Hour)
	w.open, w.other, w.closed = build("1.0", nil), build("1.1", nil), build("0.9", &past)
	w.c1, w.c2, w.c3 = change(w.open, "A-1"), change(w.open, "A-2"), change(w.open, "A-3")
	w.cOther, w.cc = change(w.other, "B-1"), change(w.closed, "C-1")
	tester := func(n int, builds ...int64) int64 {
		u := &models.User{Email: fmt.Sprintf("t%d@example.com", n), Name: fmt.Sprintf("T%d", n), Role: models.RoleTester, PasswordHash: "x"}
		must(t, s.CreateUser(ctx, nil, u))
		for _, b := range builds {
			must(t, s.w.Exec("INSERT INTO grants (build_id, user_id, created_at) VALUES (?, ?, ?)", b, u.ID, s.now()).Error)
		}
		return u.ID
	}
	w.t1, w.t2 = tester(1, w.open, w.other, w.closed), tester(2, w.open, w.other, w.closed)
	w.t3, w.t4 = tester(3, w.open), tester(4, w.other)
	must(t, s.RevokeTester(ctx, admin.ID, w.open, w.t3))
	return w
}

// openIngestWorld opens a store with newIngestWorld's fixtures, and a
// connection of its own to the same file (a command run beside the server).
func openIngestWorld(t *testing.T) (*Store, ingestWorld, *sql.DB) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{DataDir: dir})
	must(t, err)
	t.Cleanup(func() { s.Close() })
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "playgate.db")+"?_pragma=busy_timeout(10000)")
	must(t, err)
	t.Cleanup(func() { other.Close() })
	return s, newIngestWorld(t, s), other
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ingestJobs are feedback and votes covering every outcome: created, a
// retry (in the same batch and of an earlier batch), no grant, a revoked
// grant, a closed build, a change of another build, an unknown change,
// votes changed within the batch, and flags raised by bugs and by votes.
func ingestJobs(s *Store, w ingestWorld) []*writeJob {
	sev := func(v string) *string { return &v }
	id := func(v int64) *int64 { return &v }
	var jobs []*writeJob
	fb := func(in NewFeedback) {
		if in.Kind == "" {
			in.Kind = models.KindBug
		}
		if in.Title == "" {
			in.Title = "Crash in the harbour"
		}
		job := &feedbackJob{in: in}
		jobs = append(jobs, &writeJob{ctx: context.Background(), feedback: job, fn: func(tx *gorm.DB) error { return s.createFeedbackTx(tx, job) }})
	}
	vote := func(tester, change int64, v, comment string) {
		job := &voteJob{testerID: tester, changeID: change, vote: v, comment: comment}
		jobs = append(jobs, &writeJob{ctx: context.Background(), vote: job, fn: func(tx *gorm.DB) error { return s.castVoteTx(tx, job) }})
	}
	body := "Steps:\n\t1. \x00 \x1f \u2028 é 🎮 </script>"
	if s.dialect == Postgres {
		body = strings.Replace(body, "\x00 ", "", 1) // PostgreSQL's text holds no NUL (the API refuses one)
	}
	fb(NewFeedback{BuildID: w.open, TesterID: w.t1, ChangeID: id(w.c1), Severity: sev("critical"), IdempotencyKey: "k1",
		Platform: models.Platform{OS: "Linux", Device: "Deck \"OLED\"", ClientVersion: "1.0.0\\beta"}, Body: body})
	vote(w.t1, w.c2, models.VoteRevert, "")
	fb(NewFeedback{BuildID: w.open, TesterID: w.t1, ChangeID: id(w.c1), Severity: sev("critical"), IdempotencyKey: "k1"}) // retry
	fb(NewFeedback{BuildID: w.open, TesterID: w.t2, Kind: "suggestion", Title: "More maps"})
	fb(NewFeedback{BuildID: w.open, TesterID: w.t2, ChangeID: id(w.c1), Severity: sev("critical")}) // flag already raised
	fb(NewFeedback{BuildID: w.open, TesterID: w.t2, ChangeID: id(w.c3), Severity: sev("low"), IdempotencyKey: "k1"})
	fb(NewFeedback{BuildID: w.open, TesterID: w.t3, Severity: sev("high")})                           // revoked
	fb(NewFeedback{BuildID: w.open, TesterID: w.t4, Severity: sev("high")})                           // no grant
	fb(NewFeedback{BuildID: w.open, TesterID: w.t1, ChangeID: id(w.cOther), Severity: sev("medium")}) // another build's change
	fb(NewFeedback{BuildID: w.closed, TesterID: w.t1, Severity: sev("medium")})                       // closed
	fb(NewFeedback{BuildID: w.other, TesterID: w.t4, ChangeID: id(w.cOther), Severity: sev("high"), IdempotencyKey: "k2"})
	fb(NewFeedback{BuildID: w.other, TesterID: w.t1, Kind: "praise", Title: "Lovely", IdempotencyKey: "old"}) // retry of an earlier batch
	vote(w.t2, w.c2, models.VoteRevert, "")                                                                   // flags c2
	vote(w.t2, w.c2, models.VoteRevert, "still broken")
	vote(w.t1, w.c3, models.VoteKeep, "")
	vote(w.t1, w.c3, models.VoteRevert, "changed my mind")
	vote(w.t3, w.c3, models.VoteKeep, "")  // revoked
	vote(w.t4, w.c3, models.VoteKeep, "")  // no grant
	vote(w.t1, 99999, models.VoteKeep, "") // no such change
	vote(w.t1, w.cc, models.VoteKeep, "")  // closed
	vote(w.t4, w.cOther, models.VoteKeep, "")
	vote(w.t2, w.cOther, models.VoteRevert, "earlier vote changed")
	// More rows than one statement holds (maxBatchRows), every tenth a
	// retry of the one before.
	for i := range 2*maxBatchRows + 7 {
		key := fmt.Sprintf("bulk-%d", i-i%10/9)
		fb(NewFeedback{BuildID: w.open, TesterID: w.t2, ChangeID: id(w.c3), Severity: sev("medium"), Title: key, IdempotencyKey: key})
	}
	return jobs
}

// ingestState is what a user could observe of the writes, as text.
func ingestState(t *testing.T, s *Store, jobs []*writeJob, results []error) []string {
	t.Helper()
	var out []string
	for i, j := range jobs {
		switch {
		case results[i] != nil:
			out = append(out, fmt.Sprintf("job %d: error %v", i, results[i]))
		case j.feedback != nil:
			doc, err := json.Marshal(j.feedback.fb)
			must(t, err)
			out = append(out, fmt.Sprintf("job %d: created %v %s", i, j.feedback.created, doc))
		default:
			doc, err := json.Marshal(j.vote.v)
			must(t, err)
			out = append(out, fmt.Sprintf("job %d: %s", i, doc))
		}
	}
	dump := func(sorted bool, query string) {
		rows, err := s.r.Raw(query).Rows()
		must(t, err)
		defer rows.Close()
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			// With each value's type: a number stored as text differs.
			lines = append(lines, fmt.Sprintf("%#v", vals))
		}
		if sorted {
			sort.Strings(lines)
		}
		out = append(out, query)
		out = append(out, lines...)
	}
	dump(false, "SELECT * FROM feedback ORDER BY id")
	dump(false, "SELECT * FROM votes ORDER BY id")
	dump(false, "SELECT * FROM changes ORDER BY id")
	dump(false, "SELECT * FROM builds ORDER BY id")
	dump(false, "SELECT * FROM grants ORDER BY id")
	dump(false, "SELECT * FROM feedback_days ORDER BY build_id, day")
	// What differs between the databases: SQLite's full-text index is a
	// table of its own, and they edit JSON differently.
	without := func(doc string, keys ...string) string {
		if s.dialect == Postgres {
			return "(" + doc + "::jsonb - '{" + strings.Join(keys, ",") + "}'::text[])::text"
		}
		return "json_remove(" + doc + ", '$." + strings.Join(keys, "', '$.") + "')"
	}
	if s.dialect == SQLite {
		dump(false, "SELECT rowid, title, body FROM feedback_fts ORDER BY rowid")
	}
	// Events, audit entries and webhook deliveries are compared as sets: a
	// batch writes them in a different order.
	// A flag's reasons and counts are the ones of the state the batch
	// committed, where one at a time they are those of the write that
	// crossed the rule: they are left out.
	// A batch sends one vote event per change voted on, where one at a
	// time sends one per vote: vote events are compared without repeats.
	dump(true, `SELECT build_id, type, CASE type WHEN 'flag' THEN `+without("data", "reasons")+` ELSE data END, at FROM build_events
		WHERE type <> 'vote'`)
	dump(true, `SELECT DISTINCT build_id, type, data, at FROM build_events WHERE type = 'vote'`)
	dump(true, "SELECT at, actor_id, action, subject_type, subject_id, detail FROM audit_events")
	dump(true, `SELECT webhook_id, event, CASE event WHEN 'change.flagged' THEN `+without("payload", "reasons", "open_bugs", "votes")+`
		ELSE payload END, created_at FROM outbox`)
	return out
}

// The set-based batch answers every write, and leaves the database, exactly
// as the one-at-a-time path does, including when the set-based run fails
// and the batch falls back to it. On SQLite and on PostgreSQL.
func TestIngestBatchMatchesOneAtATime(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testIngestBatchMatches(t, func(t *testing.T) *Store {
			s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
			must(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) { testIngestBatchMatches(t, postgresForTest) })
}

func testIngestBatchMatches(t *testing.T, open func(*testing.T) *Store) {
	clock := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("", -5*3600))
	prepare := func(t *testing.T) (*Store, ingestWorld) {
		s := open(t)
		s.SetClock(func() time.Time { return clock })
		w := newIngestWorld(t, s)
		// An earlier batch: t1's item with key "old", and t2's vote on B-1.
		_, _, err := s.CreateFeedback(context.Background(), NewFeedback{BuildID: w.other, TesterID: w.t1, Kind: "praise", Title: "Lovely", IdempotencyKey: "old"})
		must(t, err)
		_, err = s.CastVote(context.Background(), w.t2, w.cOther, models.VoteKeep, "")
		must(t, err)
		return s, w
	}
	one, w := prepare(t)
	jobs := ingestJobs(one, w)
	want := make([]error, len(jobs))
	for i, j := range jobs {
		want[i] = one.tx(context.Background(), j.fn)
	}
	wantState := ingestState(t, one, jobs, want)
	if !strings.Contains(strings.Join(wantState, "\n"), "change.flagged") {
		t.Fatal("the fixture raises no flag")
	}

	for _, tc := range []struct {
		name       string
		fault      error
		unprepared bool
	}{
		{"set-based", nil, false},
		{"set-based through gorm", nil, true},
		{"set-based failing", errors.New("injected set failure"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, w := prepare(t)
			s.setFault, s.unprepared = tc.fault, tc.unprepared
			jobs := ingestJobs(s, w)
			for _, j := range jobs {
				j.done = make(chan error, 1)
			}
			commitAlone(s, jobs)
			got := make([]error, len(jobs))
			for i, j := range jobs {
				got[i] = <-j.done
			}
			if n, want := s.WriterStats().Fallbacks, map[bool]uint64{false: 0, true: 2}[tc.fault != nil]; n != want {
				t.Errorf("%d batches ran again one write at a time, want %d", n, want) // feedback and votes
			}
			gotState := ingestState(t, s, jobs, got)
			if !reflect.DeepEqual(gotState, wantState) {
				for i := range max(len(gotState), len(wantState)) {
					var g, w string
					if i < len(gotState) {
						g = gotState[i]
					}
					if i < len(wantState) {
						w = wantState[i]
					}
					if g != w {
						t.Errorf("batch:        %s\none at a time: %s", g, w)
					}
				}
			}
		})
	}
}

// Votes sharing a batch send one stream event per change, not one per vote:
// the stream only tells readers to reload.
func TestBatchSendsOneVoteEventPerChange(t *testing.T) {
	s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	var jobs []*writeJob
	for _, v := range []struct{ tester, change int64 }{{w.t1, w.c1}, {w.t2, w.c1}, {w.t1, w.c2}, {w.t2, w.c1}} {
		jobs = append(jobs, &writeJob{ctx: context.Background(), vote: &voteJob{testerID: v.tester, changeID: v.change, vote: models.VoteKeep},
			done: make(chan error, 1)})
	}
	commitAlone(s, jobs)
	for _, j := range jobs {
		must(t, <-j.done)
	}
	var events []string
	must(t, s.r.Raw("SELECT data FROM build_events WHERE type = 'vote' ORDER BY id").Scan(&events).Error)
	want := []string{fmt.Sprintf(`{"build_id":%d,"change_id":%d}`, w.open, w.c1), fmt.Sprintf(`{"build_id":%d,"change_id":%d}`, w.open, w.c2)}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("vote events %v, want %v", events, want)
	}
	var audit int
	must(t, s.r.Raw("SELECT count(*) FROM audit_events WHERE action = 'vote.cast'").Scan(&audit).Error)
	if audit != len(jobs) {
		t.Errorf("%d vote audit entries, want one per vote (%d)", audit, len(jobs))
	}
}

// The writer keeps the grants it read, but a revoked tester is refused at
// once: revoked through the store, or by another connection (a command run
// beside the server).
func TestWriterForgetsRevokedGrants(t *testing.T) {
	ctx := context.Background()
	s, w, other := openIngestWorld(t)
	admin := int64(1)
	vote := func(tester int64) error {
		_, err := s.CastVote(ctx, tester, w.c1, models.VoteKeep, "")
		return err
	}
	file := func(tester int64) error {
		_, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: tester, Kind: "suggestion", Title: "More maps"})
		return err
	}
	for _, tester := range []int64{w.t1, w.t2} {
		must(t, vote(tester))
		must(t, file(tester))
	}
	must(t, s.RevokeTester(ctx, admin, w.open, w.t1))
	if err := vote(w.t1); !errors.Is(err, ErrNotFound) {
		t.Errorf("vote after the store revoked the grant: %v, want not found", err)
	}
	if err := file(w.t1); !errors.Is(err, ErrNotFound) {
		t.Errorf("feedback after the store revoked the grant: %v, want not found", err)
	}

	must(t, vote(w.t2)) // the writer holds t2's grant again
	_, err := other.Exec("UPDATE grants SET revoked_at = ? WHERE build_id = ? AND user_id = ?", time.Now().UTC(), w.open, w.t2)
	must(t, err)
	if err := vote(w.t2); !errors.Is(err, ErrNotFound) {
		t.Errorf("vote after another connection revoked the grant: %v, want not found", err)
	}
	if err := file(w.t2); !errors.Is(err, ErrNotFound) {
		t.Errorf("feedback after another connection revoked the grant: %v, want not found", err)
	}
}

// The writer runs its set-based statements prepared once, on its own
// connection; a batch after a batch reuses them.
func TestWriterKeepsItsStatements(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	w := newIngestWorld(t, s)
	for i := range 3 {
		_, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "suggestion", Title: fmt.Sprintf("Idea %d", i)})
		must(t, err)
		_, err = s.CastVote(ctx, w.t1, w.c1, models.VoteKeep, "")
		must(t, err)
	}
	prepared := len(s.batch.prepared.stmts)
	if prepared == 0 {
		t.Fatal("the writer prepared no statement: it runs them all through gorm")
	}
	_, _, err = s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t2, Kind: "suggestion", Title: "One more"})
	must(t, err)
	if n := len(s.batch.prepared.stmts); n != prepared {
		t.Errorf("%d statements after another batch, want the same %d", n, prepared)
	}
	// The pool closes the writer's connection and opens another: the
	// statements of the first are finalized, the writer prepares them
	// again on the second.
	first := s.batch.prepared.db
	wdb, err := s.w.DB()
	must(t, err)
	wdb.SetMaxIdleConns(0) // closes the connection once the writer has given it back
	for deadline := time.Now().Add(10 * time.Second); wdb.Stats().OpenConnections > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the writer kept its connection")
		}
	}
	wdb.SetMaxIdleConns(1)
	fb, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t2, Kind: "suggestion", Title: "On a new connection"})
	must(t, err)
	if s.batch.prepared.db == first || len(s.batch.prepared.stmts) == 0 {
		t.Errorf("the statements did not move to the new connection (%d statements)", len(s.batch.prepared.stmts))
	}
	var title string
	must(t, s.r.Raw("SELECT title FROM feedback WHERE id = ?", fb.ID).Scan(&title).Error)
	if title != "On a new connection" {
		t.Errorf("stored title %q", title)
	}
	must(t, s.Close())
	if s.batch.prepared.stmts != nil {
		t.Error("statements left after Close")
	}
}

// The writer keeps the webhooks of a product it has read, and reads them
// again after a webhook is added or removed by the store, or added by
// another connection.
func TestWriterSeesWebhookChanges(t *testing.T) {
	ctx := context.Background()
	s, w, other := openIngestWorld(t)
	admin := int64(1)
	critical := models.SeverityCritical
	queued := func() int {
		t.Helper()
		_, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "bug", Severity: &critical, Title: "Crash at start"})
		must(t, err)
		var n int
		must(t, s.r.Raw("SELECT count(*) FROM outbox WHERE event = ?", models.EventFeedbackCritical).Scan(&n).Error)
		return n
	}
	var product, hook int64
	must(t, s.r.Raw("SELECT product_id FROM builds WHERE id = ?", w.open).Scan(&product).Error)
	must(t, s.r.Raw("SELECT id FROM webhooks WHERE product_id = ?", product).Scan(&hook).Error)
	must(t, s.DeleteWebhook(ctx, admin, product, hook))
	if n := queued(); n != 0 {
		t.Fatalf("%d webhook events with no webhook, want 0", n)
	}
	wh := &models.Webhook{ProductID: product, URL: "https://hooks.example.com/y", Events: models.EventFeedbackCritical, Secret: "0123456789abcdef", Format: "json"}
	must(t, s.CreateWebhook(ctx, admin, wh))
	if n := queued(); n != 1 {
		t.Errorf("%d webhook events after the store added a webhook, want 1", n)
	}
	must(t, s.DeleteWebhook(ctx, admin, product, wh.ID))
	if n := queued(); n != 1 {
		t.Errorf("%d webhook events after the store removed the webhook, want still 1", n)
	}
	_, err := other.Exec(`INSERT INTO webhooks (product_id, url, events, secret, format, created_by, created_at)
		VALUES (?, 'https://hooks.example.com/z', ?, '0123456789abcdef', 'json', ?, ?)`, product, models.EventFeedbackCritical, admin, time.Now().UTC())
	must(t, err)
	if n := queued(); n != 2 {
		t.Errorf("%d webhook events after another connection added a webhook, want 2", n)
	}
}

// A statement of rows refuses values that do not fill its last row, rather
// than dropping them.
func TestRowsRefuseAShortRow(t *testing.T) {
	s := &Store{dialect: SQLite}
	ran := 0
	err := s.eachRows("INSERT INTO t (a, b) "+rowsMark, 2, []any{1, 2, 3}, func(string, []any) error { ran++; return nil })
	if err == nil || ran != 0 {
		t.Errorf("3 values in rows of 2: ran %d statements, error %v", ran, err)
	}
	var got []string
	err = s.eachRows("INSERT INTO t (a, b) "+rowsMark, 2, make([]any, 2*(maxBatchRows+3)), func(q string, a []any) error {
		got = append(got, fmt.Sprintf("%d rows of %d values", strings.Count(q, "(?"), len(a)))
		return nil
	})
	want := []string{"64 rows of 128 values", "2 rows of 4 values", "1 rows of 2 values"}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("67 rows went as %q (%v), want %q", got, err, want)
	}
}

// A VALUES list read outside an INSERT casts its first row to the columns'
// types on PostgreSQL, which would take the parameters for text, and on
// SQLite is plain; a mark whose types do not match the rows is refused.
func TestRowsCarryTheirTypes(t *testing.T) {
	query := "SELECT id FROM t JOIN (" + typedRows("bigint", "text") + ") AS k ON t.id = k.column1"
	for _, tc := range []struct {
		dialect Dialect
		want    string
	}{
		{SQLite, "SELECT id FROM t JOIN (VALUES (?, ?), (?, ?)) AS k ON t.id = k.column1"},
		{Postgres, "SELECT id FROM t JOIN (VALUES (CAST(? AS bigint), CAST(? AS text)), (?, ?)) AS k ON t.id = k.column1"},
	} {
		got, err := withRows(query, 2, 2, tc.dialect)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q (%v), want %q", tc.dialect, got, err, tc.want)
		}
	}
	if got, err := withRows("INSERT INTO t (a, b) "+rowsMark, 2, 1, Postgres); err != nil || got != "INSERT INTO t (a, b) VALUES (?, ?)" {
		t.Errorf("an INSERT's rows on PostgreSQL: %q (%v), want no casts", got, err)
	}
	if _, err := withRows(query, 3, 1, Postgres); err == nil {
		t.Error("two column types for rows of three: no error")
	}
	if _, err := withRows("SELECT 1", 1, 1, SQLite); err == nil {
		t.Error("a statement without a rows mark: no error")
	}
}

// The batch's look-up of idempotency keys searches the index of keys for
// each (tester, key), which holds only items with a key: a row value's IN
// read that index whole.
func TestKeyLookUpSearchesTheIndex(t *testing.T) {
	s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	var plan []struct {
		ID, Parent, Notused int
		Detail              string
	}
	query, err := withRows(filedByKey, 2, 2, s.dialect)
	must(t, err)
	must(t, s.w.Raw("EXPLAIN QUERY PLAN "+query, 1, "a", 2, "b").Scan(&plan).Error)
	var steps []string
	for _, p := range plan {
		steps = append(steps, p.Detail)
	}
	got := strings.Join(steps, "; ")
	if !strings.Contains(got, "SEARCH f USING INDEX feedback_idempotency (tester_id=? AND idempotency_key=?)") {
		t.Errorf("plan %q, want a search of feedback_idempotency by tester and key", got)
	}
	var partial string
	must(t, s.w.Raw("SELECT sql FROM sqlite_master WHERE name = 'feedback_idempotency'").Scan(&partial).Error)
	if !strings.HasSuffix(partial, "WHERE idempotency_key IS NOT NULL") {
		t.Errorf("feedback_idempotency is %q, want items with a key only", partial)
	}
}
