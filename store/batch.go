package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// Group commit. SQLite has one writer at a time, and most of a small write's
// cost is its transaction: BEGIN, COMMIT and the WAL frames of the pages it
// touched. Writes that arrive together therefore share one transaction: each
// runs inside its own savepoint (so one that fails is rolled back alone),
// and every caller gets its answer only after the shared COMMIT. A 201 still
// means committed.

// maxBatch bounds how many writes share one transaction.
const maxBatch = 64

// errClosed answers writes sent after Close.
var errClosed = errors.New("the store is closed")

type writeJob struct {
	ctx  context.Context
	fn   func(*gorm.DB) error
	done chan error
}

// batcher feeds the single SQLite writer connection.
type batcher struct {
	jobs chan *writeJob
	// batches and writes count for the metrics.
	batches, writes atomic.Uint64
	mu              sync.RWMutex
	closed          bool
	done            chan struct{}
}

func (s *Store) startBatcher() {
	s.batch = &batcher{jobs: make(chan *writeJob, maxBatch), done: make(chan struct{})}
	go s.runBatches()
}

// submit queues fn and waits for its batch to commit.
func (s *Store) submit(ctx context.Context, fn func(*gorm.DB) error) error {
	b := s.batch
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
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
	defer close(s.batch.done)
	for first := range s.batch.jobs {
		jobs := []*writeJob{first}
	fill:
		for len(jobs) < maxBatch {
			select {
			case j, ok := <-s.batch.jobs:
				if !ok {
					break fill
				}
				jobs = append(jobs, j)
			default:
				break fill
			}
		}
		s.commitBatch(jobs)
	}
}

// commitBatch runs jobs in one transaction, each in a savepoint.
func (s *Store) commitBatch(jobs []*writeJob) {
	s.batch.batches.Add(1)
	s.batch.writes.Add(uint64(len(jobs)))
	results := make([]error, len(jobs))
	answer := func() {
		for i, j := range jobs {
			j.done <- results[i]
		}
	}
	tx := s.w.Begin()
	if tx.Error != nil {
		for i := range results {
			results[i] = fmt.Errorf("begin: %w", tx.Error)
		}
		answer()
		return
	}
	if len(jobs) == 1 {
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
		answer()
		if results[0] == nil {
			s.wakeups.wake()
		}
		return
	}
	ok := 0
	for i, j := range jobs {
		if err := j.ctx.Err(); err != nil {
			results[i] = err // the caller left before its write began
			continue
		}
		if err := tx.SavePoint("job").Error; err != nil {
			results[i] = err
			continue
		}
		results[i] = runJob(tx, j.fn)
		var err error
		if results[i] != nil {
			err = tx.RollbackTo("job").Error
		} else {
			ok++
		}
		if err == nil {
			err = tx.Exec("RELEASE SAVEPOINT job").Error
		}
		if err != nil {
			// The transaction is in an unknown state: give it all up.
			tx.Rollback()
			for k := range results {
				if results[k] == nil || k == i {
					results[k] = fmt.Errorf("savepoint: %w", err)
				}
			}
			answer()
			return
		}
	}
	if ok == 0 {
		tx.Rollback()
		answer()
		return
	}
	if err := tx.Commit().Error; err != nil {
		for i := range results {
			if results[i] == nil {
				results[i] = fmt.Errorf("commit: %w", err)
			}
		}
		answer()
		return
	}
	answer()
	s.wakeups.wake()
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
}

// WriterStats are figures of the SQLite writer, for metrics.
type WriterStats struct {
	Queued  int    // writes waiting for the writer now
	Batches uint64 // transactions committed or rolled back
	Writes  uint64 // writes run in them
}

// WriterStats reads the writer's figures (zero on PostgreSQL).
func (s *Store) WriterStats() WriterStats {
	if s.batch == nil {
		return WriterStats{}
	}
	return WriterStats{Queued: len(s.batch.jobs), Batches: s.batch.batches.Load(), Writes: s.batch.writes.Load()}
}
