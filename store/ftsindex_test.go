package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// checkFTS brings the full-text index up to date, then has FTS5 compare it
// with what its content view makes of every item (rank 1).
func checkFTS(s *Store) error {
	if err := s.ftsReady(context.Background()); err != nil {
		return err
	}
	return s.w.Exec("INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('integrity-check', 1)").Error
}

// ftsMark reads the full-text index's mark and the newest item's id.
func ftsMark(t *testing.T, db *sql.DB) (mark, newest int64) {
	t.Helper()
	err := db.QueryRow("SELECT indexed_through, (SELECT COALESCE(MAX(id), 0) FROM feedback) FROM feedback_fts_state").Scan(&mark, &newest)
	must(t, err)
	return mark, newest
}

func rawDB(t *testing.T, s *Store) *sql.DB {
	t.Helper()
	db, err := s.r.DB()
	must(t, err)
	return db
}

// heldWorld opens a store with newIngestWorld's data whose writer indexes
// items only when a search asks.
func heldWorld(t *testing.T) (*Store, ingestWorld) {
	s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	must(t, err)
	t.Cleanup(func() { s.Close() })
	w := newIngestWorld(t, s)
	holdFTS(t, s)
	return s, w
}

// holdFTS keeps the idle writer from indexing waiting items, for the
// length of the test.
func holdFTS(t *testing.T, s *Store) {
	s.holdFTS.Store(true)
	t.Cleanup(func() { s.holdFTS.Store(false) })
}

// searchIDs lists the ids of f's first page (of 100 when f sets no limit).
func searchIDs(t *testing.T, s *Store, f FeedbackFilter) []int64 {
	t.Helper()
	if f.Page.Limit == 0 {
		f.Page.Limit = 100
	}
	page, _, err := s.ListFeedback(context.Background(), f)
	must(t, err)
	var ids []int64
	for _, fb := range page {
		ids = append(ids, fb.ID)
	}
	return ids
}

// Filed items wait for the full-text index, and a search waits for them:
// it finds every item filed before it, and so do similar titles.
func TestSearchWaitsForTheIndex(t *testing.T) {
	ctx := context.Background()
	s, w := heldWorld(t)
	var filed []int64
	for i, title := range []string{"Lantern flickers in the mine", "Lantern too dim", "Great music"} {
		fb, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "bug", Severity: ptr("low"),
			Title: title, Body: fmt.Sprintf("seen %d times", i+2)})
		must(t, err)
		filed = append(filed, fb.ID)
	}
	db := rawDB(t, s)
	if mark, newest := ftsMark(t, db); mark >= filed[0] || newest != filed[2] {
		t.Fatalf("mark %d, newest item %d: the batch indexed its items (%v)", mark, newest, filed)
	}
	if got := searchIDs(t, s, FeedbackFilter{BuildID: w.open, Q: "lantern"}); !slices.Equal(got, []int64{filed[1], filed[0]}) {
		t.Errorf("q=lantern found %v, want %v", got, []int64{filed[1], filed[0]})
	}
	if mark, newest := ftsMark(t, db); mark != newest {
		t.Errorf("after a search, mark %d, newest item %d", mark, newest)
	}
	// Another item, found by similar titles before any search.
	fb, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t2, Kind: "other", Title: "Lantern battery"})
	must(t, err)
	similar, err := s.SimilarFeedback(ctx, w.open, "lantern battery drains", 0)
	must(t, err)
	if len(similar) == 0 || similar[0].ID != fb.ID {
		t.Errorf("similar to %q: %v, want item %d first", "lantern battery drains", similar, fb.ID)
	}
	must(t, checkFTS(s))
}

// An item changed or deleted before it is indexed is indexed as it is
// then; one changed after is kept in step by the triggers.
func TestIndexTakesItemsAsTheyAre(t *testing.T) {
	ctx := context.Background()
	s, w := heldWorld(t)
	file := func(title string) int64 {
		fb, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "bug", Severity: ptr("high"), Title: title})
		must(t, err)
		return fb.ID
	}
	indexed, gone := file("Compass spins"), file("Compass gone")
	must(t, s.ftsReady(ctx))
	waiting, goneWaiting := file("Compass points south"), file("Compass vanished")
	db := rawDB(t, s)
	if mark, _ := ftsMark(t, db); mark != goneWaiting-2 {
		t.Fatalf("mark %d, want %d (the first two items)", mark, goneWaiting-2)
	}
	for _, id := range []int64{indexed, waiting} {
		_, err := s.SetFeedbackStatus(ctx, w.t1, id, "wont_fix", nil)
		must(t, err)
	}
	must(t, s.w.Exec("UPDATE feedback SET title = 'Sextant points south' WHERE id = ?", waiting).Error)
	must(t, s.w.Exec("DELETE FROM feedback WHERE id IN (?, ?)", gone, goneWaiting).Error)
	must(t, checkFTS(s))

	if got := searchIDs(t, s, FeedbackFilter{BuildID: w.open, Q: "compass"}); !slices.Equal(got, []int64{indexed}) {
		t.Errorf("q=compass found %v, want %v", got, []int64{indexed})
	}
	if got := searchIDs(t, s, FeedbackFilter{BuildID: w.open, Q: "south", Status: "wont_fix"}); !slices.Equal(got, []int64{waiting}) {
		t.Errorf("q=south&status=wont_fix found %v, want %v", got, []int64{waiting})
	}
	if got := searchIDs(t, s, FeedbackFilter{BuildID: w.open, Q: "compass", Status: "new"}); len(got) != 0 {
		t.Errorf("q=compass&status=new found %v, want none", got)
	}
}

// A catch-up indexes at most its limit of items, says whether more wait,
// and merges the index's segments as it goes.
func TestIndexWaitingInSteps(t *testing.T) {
	ctx := context.Background()
	s, w := heldWorld(t)
	for i := range 3 {
		_, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "other", Title: fmt.Sprintf("Buoy %d", i)})
		must(t, err)
	}
	conn, err := s.writerConn(ctx)
	must(t, err)
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	must(t, err)
	defer tx.Rollback()
	for _, want := range []struct {
		limit int
		n     int64
		more  bool
	}{{2, 2, true}, {0, 1, false}, {0, 0, false}} {
		n, more, err := indexWaiting(ctx, tx, want.limit)
		must(t, err)
		if n != want.n || more != want.more {
			t.Errorf("limit %d: indexed %d, more %v; want %d, %v", want.limit, n, more, want.n, want.more)
		}
	}
	var found int
	must(t, tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM feedback_fts WHERE feedback_fts MATCH 'buoy'").Scan(&found))
	if found != 3 {
		t.Errorf("the index finds %d of the 3 items", found)
	}
}

// The writer indexes waiting items on its own, without a search.
func TestIdleWriterIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	_, _, err = s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "praise", Title: "Lovely fog"})
	must(t, err)
	db := rawDB(t, s)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mark, newest := ftsMark(t, db)
		if mark == newest {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the write, mark %d, newest item %d", mark, newest)
		}
	}
	must(t, s.w.Exec("INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('integrity-check', 1)").Error)
}

// Items left out of the index are indexed as the store closes, and as it
// opens (written by another process, or before a crash).
func TestIndexCaughtUpAtCloseAndOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{DataDir: dir})
	must(t, err)
	w := newIngestWorld(t, s)
	holdFTS(t, s)
	for i := range 3 {
		_, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "other", Title: fmt.Sprintf("Anchor %d", i)})
		must(t, err)
	}
	must(t, s.Close())

	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "playgate.db"))
	must(t, err)
	defer other.Close()
	if mark, newest := ftsMark(t, other); mark != newest || newest == 0 {
		t.Fatalf("after close, mark %d, newest item %d", mark, newest)
	}
	_, err = other.Exec(`INSERT INTO feedback (build_id, tester_id, kind, title, status, created_at, updated_at)
		VALUES (?, ?, 'other', 'Anchor dragged', 'new', ?, ?)`, w.open, w.t1, time.Now().UTC(), time.Now().UTC())
	must(t, err)
	if mark, newest := ftsMark(t, other); mark != newest-1 {
		t.Fatalf("an item inserted by another process: mark %d, newest item %d", mark, newest)
	}

	s, err = Open(ctx, Options{DataDir: dir})
	must(t, err)
	defer s.Close()
	if mark, newest := ftsMark(t, other); mark != newest {
		t.Errorf("after open, mark %d, newest item %d", mark, newest)
	}
	must(t, s.w.Exec("INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('integrity-check', 1)").Error)
	if got := searchIDs(t, s, FeedbackFilter{BuildID: w.open, Q: "anchor"}); len(got) != 4 {
		t.Errorf("q=anchor found %v, want 4 items", got)
	}
}

// The writer's account of waiting items decides when it indexes them.
func TestFTSLagDue(t *testing.T) {
	now := time.Now()
	var l ftsLag
	if due, wait := l.due(true, now); due || wait != 0 {
		t.Errorf("nothing waiting: due %v, wait %v", due, wait)
	}
	l.wrote(0, now)
	l.wrote(3, now)
	if due, wait := l.due(true, now.Add(10*time.Millisecond)); due || wait != ftsCatchUpAfter-10*time.Millisecond {
		t.Errorf("3 items, idle: due %v, wait %v", due, wait)
	}
	if due, _ := l.due(true, now.Add(ftsCatchUpAfter)); !due {
		t.Errorf("3 items waited %v, idle: not due", ftsCatchUpAfter)
	}
	if due, _ := l.due(false, now.Add(time.Hour)); due {
		t.Errorf("3 items, busy: due")
	}
	l.wrote(ftsCatchUpMin, now.Add(time.Hour))
	if due, _ := l.due(true, now); !due || l.since != now {
		t.Errorf("%d items, idle: due %v, since %v", l.waiting, due, l.since)
	}
	if due, _ := l.due(false, now); due {
		t.Errorf("%d items, busy: due", l.waiting)
	}
	l.wrote(ftsCatchUpMax, now)
	if due, _ := l.due(false, now); !due {
		t.Errorf("%d items, busy: not due", l.waiting)
	}
}
