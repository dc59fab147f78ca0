package store

import (
	"database/sql"
	"sync"
	"sync/atomic"
	"time"
)

// WAL checkpoints. SQLite copies the write-ahead log back into the database
// file at a checkpoint, and syncs both files. By default the connection that
// commits runs one every 1,000 pages, inside its COMMIT: now and then a
// commit waits for the copy and two fsyncs, and with one writer every write
// queued behind it waits too. Here a connection of its own copies the log in
// the background (PASSIVE: it never blocks the writer), and the writer never
// checkpoints inside a commit (wal_autocheckpoint is off in store.go).
//
// The log only starts again from its beginning when the writer begins a
// transaction with every frame copied, which the background copy, racing
// the writer's commits, almost never achieves on its own. So once the log
// is longer than walRestartFrames, right after a background checkpoint the
// writer finishes the job between two batches, after answering the first:
// it copies the few frames committed since and syncs, and its next
// transaction starts the log over.

// walRestartFrames is the log length, in pages, past which the writer
// finishes a checkpoint so that the log starts over: at most 128 MiB of
// log. Each start-over stalls every write for one checkpoint of the
// writer's own, about two fsyncs (15-30 ms on the machines measured),
// and bug filing at full speed writes 30,000 pages a second: at 4,000
// pages the writer spent 10 % of its time there, at 32,000 3 %
// (docs/PERFORMANCE.md, twelfth round). Only writes that keep racing the
// checkpointer make the log that long: with pauses between them, it starts
// over at the first write after a background checkpoint. Its file keeps
// the largest size it reached until the store closes, when the log is
// folded back and truncated.
const walRestartFrames = 32000

// checkpointEvery is how often the checkpointer looks at the log.
const checkpointEvery = 100 * time.Millisecond

type checkpointer struct {
	db *sql.DB
	// paused is held while the checkpointer must keep no connection open
	// (see Store.quiesce).
	paused sync.Mutex
	// restart asks the writer to finish a checkpoint: the log is longer
	// than restartAt frames (walRestartFrames; tests lower it), and a
	// background checkpoint has just copied what it could.
	restart   atomic.Bool
	restartAt atomic.Int64
	stop      chan struct{}
	done      chan struct{}
}

func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
	c.restartAt.Store(walRestartFrames)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if !c.paused.TryLock() {
				continue
			}
			// A failure (the database busy or closing) is retried at the
			// next tick; the log only grows meanwhile.
			var busy, logged, copied int
			err := c.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied)
			c.paused.Unlock()
			if err == nil && int64(logged) >= c.restartAt.Load() {
				c.restart.Store(true)
			}
		}
	}
}

// pause closes the checkpointer's connection and keeps it from opening
// another until resume.
func (c *checkpointer) pause() {
	c.paused.Lock()
	c.db.SetMaxIdleConns(0)
}

func (c *checkpointer) resume() {
	c.db.SetMaxIdleConns(1)
	c.paused.Unlock()
}

// close stops the checkpointer and folds the whole log into the database.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	_, err := c.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	if cerr := c.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// restartLog runs on the writer between batches: when the checkpointer
// asks, it copies what the log holds beyond the last background checkpoint,
// so that the writer's next transaction starts the log over. A failure
// leaves the log longer until the next request.
func (s *Store) restartLog() {
	if s.checkpoints == nil || !s.checkpoints.restart.CompareAndSwap(true, false) {
		return
	}
	s.w.Exec("PRAGMA wal_checkpoint(PASSIVE)")
}

// quiesce closes the SQLite connections of the store that sit idle, other
// than the writer's, and keeps the checkpointer from opening one until the
// returned func runs. Readers opened meanwhile (a request) are not held
// back: this only gives a bulk load its chance to have the database alone.
func (s *Store) quiesce() (resume func()) {
	rdb, err := s.r.DB()
	if err != nil || s.checkpoints == nil {
		return func() {}
	}
	s.checkpoints.pause()
	rdb.SetMaxIdleConns(0)
	return func() {
		rdb.SetMaxIdleConns(sqliteReaders)
		s.checkpoints.resume()
	}
}
