package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// Group commit. SQLite has one writer at a time, and most of a small write's
// cost is its transaction: BEGIN, COMMIT and the WAL frames of the pages it
// touched. Writes that arrive together therefore share one transaction: each
// runs inside its own savepoint (so one that fails is rolled back alone),
// and every caller gets its answer only after the shared COMMIT. A 201 still
// means committed.
//
// On PostgreSQL only bug reports and votes are grouped (set-based, as on
// SQLite); every other write is a transaction of its own. Every bug report
// updates its build's row and every vote its change's, so one at a time
// they queue on that row's lock and on a disk flush each. A batch holds
// more locks, longer, than one write: it takes them up front, in the order
// single writes take them (lockBatch). If it still meets a deadlock or a
// serialization failure, PostgreSQL rolls it back and its writes run again,
// each in a transaction of its own.

// maxBatch bounds how many writes share one transaction. A batch that can
// take every request in flight leaves the HTTP side nothing to do while it
// runs: at c = 64, bug filing in six alternating pairs, 32 gave 7,413-7,878
// req/s against 6,938-7,762 for 64 (server CPU per request 2-5 % lower);
// 24 and 48 the same as 32; votes and the mix unchanged.
const maxBatch = 32

// batchYields is how many times the writer lets other goroutines run
// before it closes a batch that is not full: requests already read but
// still being decoded join the batch instead of waiting for the next one.
// Each write shares the batch's fixed costs (its statements, the pages
// every write touches, the commit) with more others. It costs a few
// microseconds when nothing else is runnable. Measured, c = 64, alternating
// runs: votes 12,061-12,600 -> 13,511-14,056 req/s, bug reports
// 7,137-7,794 -> 7,423-7,930 req/s, p99 1-2 ms lower.
const batchYields = 16

// errClosed answers writes sent after Close.
var errClosed = errors.New("the store is closed")

type writeJob struct {
	ctx context.Context
	// fn is the write on its own. Feedback and votes also carry their
	// input, so that a batch runs them together, set-based (ingest.go), and
	// falls back to fn only if that fails.
	fn       func(*gorm.DB) error
	feedback *feedbackJob
	vote     *voteJob
	// index asks the writer to bring the full-text index up to date
	// (ftsReady) instead of writing.
	index bool
	done  chan error
}

// batcher feeds the single SQLite writer connection.
type batcher struct {
	jobs chan *writeJob
	// batches and writes count for the metrics; fallbacks, the set-based
	// runs that failed and ran again one write at a time (ingestSet).
	batches, writes, fallbacks atomic.Uint64
	mu                         sync.RWMutex
	closed                     bool
	done                       chan struct{}
	// cache is the writer's grants and webhooks (ingest.go).
	cache writerCache
	// prepared are the writer's statements (prepared.go); direct says
	// they run on the current batch's connection.
	prepared preparedStmts
	direct   bool
	// fts counts the items not yet in the full-text index (ftsindex.go).
	fts ftsLag
}

func (s *Store) startBatcher() {
	s.batch = &batcher{jobs: make(chan *writeJob, maxBatch), done: make(chan struct{})}
	go s.runBatches()
}

// submit queues fn and waits for its batch to commit.
func (s *Store) submit(ctx context.Context, fn func(*gorm.DB) error) error {
	return s.submitJob(&writeJob{ctx: ctx, fn: fn})
}

// submitJob queues j and waits for its batch to commit.
func (s *Store) submitJob(j *writeJob) error {
	b := s.batch
	j.done = make(chan error, 1)
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return errClosed
	}
	b.jobs <- j
	b.mu.RUnlock()
	return <-j.done // never abandoned: the answer must say what happened
}

func (s *Store) runBatches() {
	b := s.batch
	defer close(b.done)
	var timer *time.Timer
	for {
		first, ok := s.nextJob(&timer)
		if !ok {
			return
		}
		jobs := []*writeJob{first}
		yields := 0
	fill:
		for len(jobs) < maxBatch {
			select {
			case j, ok := <-b.jobs:
				if !ok {
					break fill
				}
				jobs = append(jobs, j)
			default:
				if yields == batchYields {
					break fill
				}
				yields++
				runtime.Gosched()
			}
		}
		var writes, index []*writeJob
		for _, j := range jobs {
			if j.index {
				index = append(index, j)
			} else {
				writes = append(writes, j)
			}
		}
		if len(writes) > 0 {
			s.commitBatch(writes)
			s.restartLog()
		}
		if len(index) > 0 {
			err := s.catchUp(true)
			for _, j := range index {
				j.done <- err
			}
		}
	}
}

// nextJob waits for the writer's next job. On SQLite, while it waits, it
// indexes the items the full-text index lacks when they are due.
func (s *Store) nextJob(timer **time.Timer) (*writeJob, bool) {
	b := s.batch
	for s.dialect == SQLite {
		idle := len(b.jobs) == 0
		due, wait := b.fts.due(idle, time.Now())
		if s.holdFTS.Load() {
			due, wait = false, 0
		}
		if due {
			s.catchUp(false)
			continue
		}
		if !idle || wait == 0 {
			break
		}
		if *timer == nil {
			*timer = time.NewTimer(wait)
		} else {
			(*timer).Reset(wait)
		}
		select {
		case j, ok := <-b.jobs:
			(*timer).Stop()
			return s.lastJob(j, ok)
		case <-(*timer).C:
		}
	}
	j, ok := <-b.jobs
	return s.lastJob(j, ok)
}

// lastJob passes on what nextJob received; when the queue is closed (the
// store closes), the waiting items are indexed first.
func (s *Store) lastJob(j *writeJob, ok bool) (*writeJob, bool) {
	if !ok && s.dialect == SQLite && s.batch.fts.waiting > 0 {
		s.catchUp(true)
	}
	return j, ok
}

// catchUp indexes the waiting items, all of them or up to ftsCatchUpMax,
// on the writer's goroutine, and keeps its account (ftsindex.go): after a
// failure the idle writer tries again ftsCatchUpAfter later (a search
// reports it), and with items left it goes on when next idle.
func (s *Store) catchUp(all bool) error {
	b := s.batch
	ctx := context.Background()
	var more bool
	var err error
	if all {
		err = s.catchUpFTS(ctx, ftsCatchUpMax)
	} else {
		more, err = s.catchUpOnce(ctx, ftsCatchUpMax)
	}
	switch {
	case err != nil:
		slog.Error("full-text index: catch up", "err", err)
		b.fts.since = time.Now()
	case more:
		b.fts.since = time.Now().Add(-ftsCatchUpAfter)
	default:
		b.fts = ftsLag{}
	}
	return err
}

// commitBatch runs jobs in one transaction. Feedback and votes run
// together, set-based, in one savepoint per kind; every other write in a
// savepoint of its own, so that one that fails is rolled back alone.
func (s *Store) commitBatch(jobs []*writeJob) {
	s.batch.batches.Add(1)
	s.batch.writes.Add(uint64(len(jobs)))
	results := make([]error, len(jobs))
	answer := func() {
		for i, j := range jobs {
			j.done <- results[i]
		}
	}
	giveUp := func(err error) {
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
		answer()
	}
	tx, release, err := s.beginBatch()
	if err != nil {
		giveUp(fmt.Errorf("begin: %w", err))
		return
	}
	defer release()
	if len(jobs) == 1 && jobs[0].feedback == nil && jobs[0].vote == nil {
		// Alone: its own transaction, no savepoint (FTS5 flushes at each one).
		results[0] = jobs[0].ctx.Err()
		if results[0] == nil {
			results[0] = runJob(tx, jobs[0].fn)
		}
		if results[0] != nil {
			tx.Rollback()
		} else if err := tx.Commit().Error; err != nil {
			results[0] = fmt.Errorf("commit: %w", err)
		}
		// Whether it committed or not: a failed COMMIT may still have
		// reached the disk.
		s.principals.invalidate()
		s.batch.cache.reset()
		s.version.Add(1)
		answer()
		if results[0] == nil {
			s.committed()
		}
		return
	}
	var feedback, votes, other []int
	for i, j := range jobs {
		switch {
		case j.ctx.Err() != nil:
			results[i] = j.ctx.Err() // the caller left before its write began
		case j.feedback != nil:
			feedback = append(feedback, i)
		case j.vote != nil:
			votes = append(votes, i)
		default:
			other = append(other, i)
		}
	}
	if s.dialect == Postgres {
		// Other replicas write too: grants and webhooks are read afresh,
		// under the locks lockBatch takes.
		s.batch.cache.reset()
		err = lockBatch(tx, jobs, feedback, votes)
	} else if len(feedback) > 0 || len(votes) > 0 {
		s.batch.cache.check(s, tx)
	}
	if err == nil {
		err = s.ingestSet(tx, jobs, results, feedback, s.ingestFeedback)
	}
	if err == nil {
		err = s.ingestSet(tx, jobs, results, votes, s.ingestVotes)
	}
	for _, i := range other {
		if err != nil {
			break
		}
		results[i], err = saved(tx, jobs[i].fn)
	}
	if s.dialect == Postgres && (err != nil || slices.ContainsFunc(results, retryable)) {
		tx.Rollback()
		s.oneByOne(jobs, results)
		answer()
		s.committed()
		return
	}
	if err != nil {
		// The transaction is in an unknown state: give it all up.
		tx.Rollback()
		giveUp(fmt.Errorf("savepoint: %w", err))
		return
	}
	ok := 0
	for _, r := range results {
		if r == nil {
			ok++
		}
	}
	if ok == 0 {
		tx.Rollback()
		answer()
		return
	}
	err = tx.Commit().Error
	if len(other) > 0 {
		// Any write but feedback and votes may end a session, change a
		// user, revoke a grant or change a build; a failed COMMIT may
		// still have reached the disk.
		s.principals.invalidate()
		s.batch.cache.reset()
	}
	s.version.Add(1)
	if err != nil {
		giveUp(fmt.Errorf("commit: %w", err))
		return
	}
	if s.dialect == SQLite {
		created := 0
		for _, i := range feedback {
			if results[i] == nil && jobs[i].feedback.created {
				created++
			}
		}
		s.batch.fts.wrote(created, time.Now())
	}
	answer()
	s.committed()
}

// beginBatch begins a batch's transaction. On SQLite it holds the writer's
// connection for the batch and points the prepared statements at it;
// release gives the connection back.
func (s *Store) beginBatch() (tx *gorm.DB, release func(), err error) {
	b := s.batch
	b.direct = false
	if s.dialect != SQLite {
		tx = s.w.Begin()
		return tx, func() {}, tx.Error
	}
	ctx := context.Background()
	conn, err := s.writerConn(ctx)
	if err != nil {
		return nil, nil, err
	}
	direct := conn.Raw(func(dc any) error {
		if !b.prepared.attach(dc) {
			return errNotAttached
		}
		return nil
	}) == nil
	pool := s.w.Session(&gorm.Session{Context: ctx, NewDB: true})
	pool.Statement.ConnPool = conn
	if tx = pool.Begin(); tx.Error != nil {
		conn.Close()
		return nil, nil, tx.Error
	}
	b.direct = direct && !s.unprepared
	return tx, func() {
		b.direct = false
		conn.Close()
	}, nil
}

// lockBatch takes, at the start of a PostgreSQL batch, the row locks its
// bug reports and votes will take: their grants, then their changes, then
// the builds of the bug reports, each in id order. A single write takes
// them in that order too (createFeedbackTx: grant, change, build;
// castVoteTx: grant, change), so neither another replica's batch nor a
// write of its own can hold one of them while waiting for another the
// batch holds.
func lockBatch(tx *gorm.DB, jobs []*writeJob, feedback, votes []int) error {
	if len(feedback)+len(votes) == 0 {
		return nil
	}
	var grants []string
	var args []any
	var changes, builds []int64
	if len(feedback) > 0 {
		var pairs [][]any
		for _, i := range feedback {
			in := &jobs[i].feedback.in
			pairs = append(pairs, []any{in.BuildID, in.TesterID})
			builds = append(builds, in.BuildID)
			if in.ChangeID != nil {
				changes = append(changes, *in.ChangeID)
			}
		}
		grants, args = append(grants, "SELECT id FROM grants WHERE (build_id, user_id) IN ?"), append(args, pairs)
	}
	if len(votes) > 0 {
		var pairs [][]any
		for _, i := range votes {
			v := jobs[i].vote
			pairs = append(pairs, []any{v.changeID, v.testerID})
			changes = append(changes, v.changeID)
		}
		grants = append(grants, "SELECT g.id FROM grants g JOIN changes c ON c.build_id = g.build_id WHERE (c.id, g.user_id) IN ?")
		args = append(args, pairs)
	}
	var ids []int64
	err := tx.Raw("SELECT id FROM grants WHERE id IN ("+strings.Join(grants, " UNION ")+") ORDER BY id FOR NO KEY UPDATE", args...).Scan(&ids).Error
	if err != nil {
		return fmt.Errorf("lock grants: %w", err)
	}
	if len(changes) > 0 {
		if err := tx.Raw("SELECT id FROM changes WHERE id IN ? ORDER BY id FOR NO KEY UPDATE", changes).Scan(&ids).Error; err != nil {
			return fmt.Errorf("lock changes: %w", err)
		}
	}
	if len(builds) > 0 {
		if err := tx.Raw("SELECT id FROM builds WHERE id IN ? ORDER BY id FOR NO KEY UPDATE", builds).Scan(&ids).Error; err != nil {
			return fmt.Errorf("lock builds: %w", err)
		}
	}
	return nil
}

// retryable tells a PostgreSQL error that the same write may not meet
// again: a deadlock, or a serialization failure.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}

// oneByOne runs the writes of a batch PostgreSQL rolled back, each in a
// transaction of its own.
func (s *Store) oneByOne(jobs []*writeJob, results []error) {
	for i, j := range jobs {
		results[i] = j.ctx.Err()
		if results[i] == nil {
			results[i] = s.w.Transaction(func(tx *gorm.DB) error { return runJob(tx, j.fn) })
		}
	}
}

// saved runs fn in a savepoint, rolled back if fn fails. jobErr is fn's
// error; txErr says the transaction itself is in an unknown state.
func saved(tx *gorm.DB, fn func(*gorm.DB) error) (jobErr, txErr error) {
	if err := tx.SavePoint("job").Error; err != nil {
		return nil, err
	}
	jobErr = runJob(tx, fn)
	if jobErr != nil {
		txErr = tx.RollbackTo("job").Error
	}
	if txErr == nil {
		txErr = tx.Exec("RELEASE SAVEPOINT job").Error
	}
	return jobErr, txErr
}

// ingestSet runs the writes idx of one kind together through set (one
// savepoint for all). If set fails as a whole, they run one by one, each in
// its own savepoint, so that one bad write fails alone. The error returned
// means the transaction is in an unknown state.
func (s *Store) ingestSet(tx *gorm.DB, jobs []*writeJob, results []error, idx []int,
	set func(tx *gorm.DB, jobs []*writeJob, results []error, idx []int) error) error {
	if len(idx) == 0 {
		return nil
	}
	setErr, err := saved(tx, func(tx *gorm.DB) error {
		if s.setFault != nil {
			return s.setFault
		}
		return set(tx, jobs, results, idx)
	})
	if err != nil || setErr == nil {
		return err
	}
	s.batch.fallbacks.Add(1)
	for _, i := range idx {
		if results[i], err = saved(tx, jobs[i].fn); err != nil {
			return err
		}
	}
	return nil
}

// runJob runs one write, turning a panic into its error so that one bad
// request cannot take the writer down.
func runJob(tx *gorm.DB, fn func(*gorm.DB) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(tx)
}

// ingest runs a feedback or vote write in the group commit.
func (s *Store) ingest(ctx context.Context, j *writeJob) error {
	j.ctx = ctx
	return s.submitJob(j)
}

// stopBatcher commits what is queued and stops the writer.
func (s *Store) stopBatcher() {
	b := s.batch
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.jobs)
	}
	b.mu.Unlock()
	<-b.done
	b.prepared.close()
}

// WriterStats are figures of the SQLite writer, for metrics.
type WriterStats struct {
	Queued  int    // writes waiting for the writer now
	Batches uint64 // transactions committed or rolled back
	Writes  uint64 // writes run in them
	// Fallbacks are the set-based runs of feedback or votes that failed as
	// a whole and ran again one write at a time: each is a fault to look at.
	Fallbacks uint64
}

// WriterStats reads the writer's figures (zero on PostgreSQL).
func (s *Store) WriterStats() WriterStats {
	if s.batch == nil {
		return WriterStats{}
	}
	return WriterStats{Queued: len(s.batch.jobs), Batches: s.batch.batches.Load(), Writes: s.batch.writes.Load(),
		Fallbacks: s.batch.fallbacks.Load()}
}
