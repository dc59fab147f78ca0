package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"playgate/models"
	"playgate/store"
	"playgate/store/storetest"
)

// testOptions are the options of a fresh, empty database for one test.
func testOptions(t *testing.T) store.Options { return storetest.Options(t) }

func openForTest(t *testing.T) *store.Store {
	t.Helper()
	return openWith(t, testOptions(t))
}

// openWith opens a store on opts, closed when the test ends.
func openWith(t *testing.T, opts store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// aggregateRows reads every aggregate column as text, to compare the
// counts kept on write with a recount.
func aggregateRows(t *testing.T, st *store.Store) string {
	t.Helper()
	var out strings.Builder
	for _, q := range []string{
		"SELECT id, keep_votes, revert_votes, open_low, open_medium, open_high, open_critical FROM changes ORDER BY id",
		"SELECT id, feedback_count, bugs_low, bugs_medium, bugs_high, bugs_critical FROM builds ORDER BY id",
		"SELECT id, feedback_count, vote_count FROM grants ORDER BY id",
		"SELECT id, comment_count, attachment_count FROM feedback ORDER BY id",
	} {
		var rows []map[string]any
		if err := st.WriterDB().Raw(q).Scan(&rows).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fmt.Fprintln(&out, rows)
	}
	return out.String()
}

// TestConcurrentWriters: 64 testers write at once (feedback, retries with
// an idempotency key, votes and changed votes, comments) while staff triage
// and readers list. No write fails, none is lost ("database is locked" is
// the failure this guards against on SQLite), and every aggregate kept on
// write equals a recount.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	st := openForTest(t)
	hash, err := models.HashPassword("concurrency-password")
	if err != nil {
		t.Fatal(err)
	}
	admin := &models.User{Email: "admin@example.com", Name: "Admin", Role: models.RoleAdmin, PasswordHash: hash}
	if err := st.CreateUser(ctx, nil, admin); err != nil {
		t.Fatal(err)
	}
	p := &models.Product{Name: "Game", Slug: "game"}
	if err := st.CreateProduct(ctx, admin.ID, p); err != nil {
		t.Fatal(err)
	}
	b := &models.Build{ProductID: p.ID, Version: "1.0", Policy: models.DefaultPolicy()}
	if err := st.CreateBuild(ctx, admin.ID, b); err != nil {
		t.Fatal(err)
	}
	var changes []int64
	for i := 0; i < 4; i++ {
		c := &models.Change{BuildID: b.ID, Key: fmt.Sprintf("PG-%d", i), Title: fmt.Sprintf("Change %d", i)}
		if err := st.CreateChange(ctx, admin.ID, c); err != nil {
			t.Fatal(err)
		}
		changes = append(changes, c.ID)
	}
	const writers = 64
	testers := make([]int64, writers)
	for i := range testers {
		u := &models.User{Email: fmt.Sprintf("t%d@example.com", i), Name: fmt.Sprintf("Tester %d", i), Role: models.RoleTester, PasswordHash: hash}
		if err := st.CreateUser(ctx, nil, u); err != nil {
			t.Fatal(err)
		}
		if err := st.WriterDB().Create(&models.Grant{BuildID: b.ID, UserID: u.ID, CreatedAt: time.Now().UTC()}).Error; err != nil {
			t.Fatal(err)
		}
		testers[i] = u.ID
	}

	severities := []string{"low", "medium", "high", "critical"}
	errs := make(chan error, writers*16)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			tid := testers[i]
			report := func(what string, err error) {
				if err != nil {
					errs <- fmt.Errorf("writer %d: %s: %w", i, what, err)
				}
			}
			sev := severities[i%4]
			ch := changes[i%4]
			fb, created, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: b.ID, TesterID: tid, ChangeID: &ch, Kind: "bug", Severity: &sev,
				Title: fmt.Sprintf("Bug %d", i), Platform: models.Platform{OS: "Linux"}})
			report("feedback", err)
			if err == nil && !created {
				errs <- fmt.Errorf("writer %d: a new item was not created", i)
			}
			// A retry pair with an idempotency key stores one item.
			key := fmt.Sprintf("key-%d", i)
			first, c1, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: b.ID, TesterID: tid, Kind: "suggestion", Title: "Idea", IdempotencyKey: key})
			report("keyed feedback", err)
			again, c2, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: b.ID, TesterID: tid, Kind: "suggestion", Title: "Idea", IdempotencyKey: key})
			report("keyed retry", err)
			if first != nil && again != nil && (!c1 || c2 || first.ID != again.ID) {
				errs <- fmt.Errorf("writer %d: keyed retry created=%v/%v ids %d/%d", i, c1, c2, first.ID, again.ID)
			}
			for j, c := range changes[:3] {
				_, err := st.CastVote(ctx, tid, c, []string{"keep", "revert"}[(i+j)%2], "")
				report("vote", err)
			}
			_, err = st.CastVote(ctx, tid, changes[0], []string{"revert", "keep"}[i%2], "changed my mind")
			report("changed vote", err)
			if fb != nil {
				report("comment", st.AddComment(ctx, &models.Comment{FeedbackID: fb.ID, AuthorID: tid, Body: "More detail"}))
				if i%4 == 0 {
					_, err := st.SetFeedbackStatus(ctx, admin.ID, fb.ID, "resolved", nil)
					report("triage", err)
					report("staff reply", st.AddComment(ctx, &models.Comment{FeedbackID: fb.ID, AuthorID: admin.ID, Staff: true, Body: "Fixed"}))
				}
			}
		}(i)
	}
	// Readers list while the writers write.
	done := make(chan struct{})
	var readers sync.WaitGroup
	for r := 0; r < 4; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			<-start
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, _, err := st.ListFeedback(ctx, store.FeedbackFilter{BuildID: b.ID, Page: store.Page{Limit: 50}}); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
				if _, err := st.Changes(ctx, b.ID); err != nil {
					errs <- fmt.Errorf("reader: %w", err)
					return
				}
			}
		}()
	}
	began := time.Now()
	close(start)
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d writers done in %v", writers, time.Since(began))

	count := func(table string) int64 {
		var n int64
		if err := st.WriterDB().Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("feedback"); n != 2*writers {
		t.Errorf("%d feedback rows, want %d", n, 2*writers)
	}
	if n := count("votes"); n != 3*writers {
		t.Errorf("%d vote rows, want %d", n, 3*writers)
	}
	if n := count("comments"); n != writers+writers/4 {
		t.Errorf("%d comments, want %d", n, writers+writers/4)
	}
	var events int64
	st.WriterDB().Table("audit_events").Where("action IN ?", []string{"feedback.created", "vote.cast", "comment.created", "feedback.triaged"}).Count(&events)
	if want := int64(writers*2 + writers*4 + writers + writers/4 + writers/4); events != want {
		t.Errorf("%d audit events for the writes, want %d", events, want)
	}

	kept := aggregateRows(t, st)
	if err := st.Recount(ctx); err != nil {
		t.Fatal(err)
	}
	if recounted := aggregateRows(t, st); kept != recounted {
		t.Errorf("aggregates kept on write differ from a recount:\nkept      %s\nrecounted %s", kept, recounted)
	}
	// Spot checks of the aggregates against what the writers did.
	c0, err := st.Change(ctx, changes[0])
	if err != nil {
		t.Fatal(err)
	}
	if c0.KeepVotes+c0.RevertVotes != writers || c0.KeepVotes != writers/2 {
		t.Errorf("change 0: keep %d revert %d, want %d each", c0.KeepVotes, c0.RevertVotes, writers/2)
	}
	// Writer i filed a bug of severity i%4 on change i%4: change 3 has the criticals, none resolved.
	c3, _ := st.Change(ctx, changes[3])
	if c3.OpenCritical != writers/4 {
		t.Errorf("change 3: %d open critical bugs, want %d", c3.OpenCritical, writers/4)
	}
	bb, _ := st.Build(ctx, b.ID)
	if bb.FeedbackCount != 2*writers || bb.BugsLow+bb.BugsMedium+bb.BugsHigh+bb.BugsCritical != writers {
		t.Errorf("build counts: %+v", bb)
	}
}

// TestTwoStoresOneFile: two stores on one SQLite file (two replicas,
// or the server and a CLI command) writing at once never see
// "database is locked": the busy timeout makes them wait their turn.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t)
	a, b := openWith(t, opts), openWith(t, opts)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			st := []*store.Store{a, b}[i%2]
			u := &models.User{Email: fmt.Sprintf("u%d@example.com", i), Name: "U", Role: models.RoleTester, PasswordHash: "x"}
			if err := st.CreateUser(ctx, nil, u); err != nil {
				errs <- err
				return
			}
			if _, _, err := st.StartSession(ctx, u.ID); err != nil {
				errs <- err
			}
			if err := st.RecordLoginFailure(ctx, u.Email, "192.0.2.9", &u.ID); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := a.CountUsers(ctx); n != 32 {
		t.Errorf("%d users, want 32", n)
	}
	// Throttling is read from the database: both stores see the 32 failures.
	if wait, _ := b.LoginThrottled(ctx, "someone@example.com", "192.0.2.9"); wait <= 0 {
		t.Errorf("the failures written through both stores do not throttle")
	}
}
