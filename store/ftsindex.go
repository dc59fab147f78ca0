package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The full-text index, filled behind the writes (SQLite).
//
// Indexing an item's words inside its batch cost a sixth of the server's
// CPU when filing bugs, all of it on the writer, through which every write
// passes: FTS5 wrote a small segment at every batch, and merged those
// segments again and again. Items now reach the index in catch-ups,
// transactions of the writer's own that index the items after
// feedback_fts_state.indexed_through (migration 13), in id order, and move
// that mark:
//
//   - when the writer has nothing else to do and ftsCatchUpMin items wait,
//     or the oldest has waited ftsCatchUpAfter;
//   - before the writer takes more writes, when ftsCatchUpMax items wait;
//   - before a search, which waits for it (ftsReady) when an item is not
//     indexed: a search finds every item whose write was answered before
//     it began, as it did when each batch indexed its items.
//
// In segments of about a thousand items, indexing costs a third of what it
// did (a CPU profile, c = 64: 5 % of the server's CPU, against 16 %), and
// the server's CPU per bug report falls about 5 % (six alternating runs).
//
// Items up to the mark are in the index, and the triggers keep them in
// step as they change or go; an item after the mark is indexed as it is at
// its catch-up. A crash loses nothing: the mark moves in the transaction
// that indexes the items, and the store catches up as it opens.

const (
	// ftsCatchUpMin is how many waiting items make the idle writer index
	// them. 256 saved half as much; 2,048 no more than 1,024.
	ftsCatchUpMin = 1024
	// ftsCatchUpAfter is how long the idle writer leaves fewer items
	// waiting.
	ftsCatchUpAfter = 200 * time.Millisecond
	// ftsCatchUpMax is how many waiting items make the writer index them
	// before it takes more writes, and the most items one catch-up
	// indexes (about 30 ms of the writer's time).
	ftsCatchUpMax = 4096
)

// ftsLag is the writer's account of the items its batches committed and
// no catch-up has indexed yet. Only the writer's goroutine touches it.
type ftsLag struct {
	waiting int       // items committed since the last catch-up (an estimate)
	since   time.Time // when the first of them was committed
}

// wrote records n items committed.
func (l *ftsLag) wrote(n int, now time.Time) {
	if n <= 0 {
		return
	}
	if l.waiting == 0 {
		l.since = now
	}
	l.waiting += n
}

// due says whether the writer should catch up now: idle says its queue is
// empty. wait is how long an idle writer may wait for more items first.
func (l *ftsLag) due(idle bool, now time.Time) (due bool, wait time.Duration) {
	switch {
	case l.waiting == 0:
		return false, 0
	case l.waiting >= ftsCatchUpMax:
		return true, 0
	case !idle:
		return false, 0
	case l.waiting >= ftsCatchUpMin:
		return true, 0
	}
	if left := ftsCatchUpAfter - now.Sub(l.since); left > 0 {
		return false, left
	}
	return true, 0
}

// sqlTx is what a catch-up needs of a transaction: *sql.Tx, or the seed's.
type sqlTx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// indexWaiting indexes, in tx, the items after the mark, at most limit of
// them (0: all), merges as many pages of the index's segments as it
// indexed items, and moves the mark. It returns how many items it indexed
// and whether any are left.
func indexWaiting(ctx context.Context, tx sqlTx, limit int) (n int64, more bool, err error) {
	var mark, newest int64
	err = tx.QueryRowContext(ctx, `SELECT indexed_through, COALESCE((SELECT MAX(id) FROM feedback), 0) FROM feedback_fts_state`).
		Scan(&mark, &newest)
	if err != nil {
		return 0, false, fmt.Errorf("read the full-text mark: %w", err)
	}
	if newest <= mark {
		return 0, false, nil
	}
	through := newest
	if limit > 0 {
		// The limit-th item after the mark (ids may have gaps).
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), ?) FROM (SELECT id FROM feedback WHERE id > ? ORDER BY id LIMIT ?)`,
			newest, mark, limit).Scan(&through)
		if err != nil {
			return 0, false, fmt.Errorf("find the items to index: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO feedback_fts (rowid, title, body, tags)
		SELECT id, title, body, tags FROM feedback_fts_content WHERE id > ? AND id <= ?`, mark, through)
	if err != nil {
		return 0, false, fmt.Errorf("index items: %w", err)
	}
	if n, err = res.RowsAffected(); err != nil {
		return 0, false, err
	}
	if n > 0 {
		// The merges that used to come with each batch (ftsMergePages), as
		// many pages as items.
		if _, err := tx.ExecContext(ctx, "INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('merge', ?)", max(n, ftsMergePages)); err != nil {
			return 0, false, fmt.Errorf("merge the index: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE feedback_fts_state SET indexed_through = ?", through); err != nil {
		return 0, false, fmt.Errorf("move the full-text mark: %w", err)
	}
	return n, through < newest, nil
}

// markIndexed moves the mark past every item, after the index was filled
// with all of them (the seed).
func markIndexed(ctx context.Context, tx sqlTx) error {
	_, err := tx.ExecContext(ctx, "UPDATE feedback_fts_state SET indexed_through = (SELECT COALESCE(MAX(id), 0) FROM feedback)")
	if err != nil {
		return fmt.Errorf("move the full-text mark: %w", err)
	}
	return nil
}

// catchUpFTS indexes the waiting items, in transactions of at most limit
// items (0: one transaction), until none is left.
func (s *Store) catchUpFTS(ctx context.Context, limit int) error {
	for {
		more, err := s.catchUpOnce(ctx, limit)
		if err != nil || !more {
			return err
		}
	}
}

func (s *Store) catchUpOnce(ctx context.Context, limit int) (more bool, err error) {
	conn, err := s.writerConn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("begin: %w", err)
	}
	if _, more, err = indexWaiting(ctx, tx, limit); err != nil {
		tx.Rollback()
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit the full-text index: %w", err)
	}
	return more, nil
}

// ftsReady returns once every item committed before it was called is in
// the full-text index, which a search reads. It asks the database, not the
// writer's account: items written by another process count too.
func (s *Store) ftsReady(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	var behind bool
	err := s.read(ctx).Raw(`SELECT indexed_through < COALESCE((SELECT MAX(id) FROM feedback), 0) FROM feedback_fts_state`).
		Row().Scan(&behind)
	if err != nil || !behind {
		return err
	}
	return s.submitJob(&writeJob{ctx: ctx, index: true})
}
