package store

import (
	"database/sql"
	"sync"
	"time"
)

// WAL checkpoints. SQLite copies the write-ahead log back into the database
// file at a checkpoint, and syncs it to disk. By default the connection that
// commits runs one every 1,000 pages, so now and then a commit waits for the
// copy and an fsync: with one writer, every write queued behind it waits
// too. Here a connection of its own copies the log in the background
// (PASSIVE: it never blocks the writer). The writer still checkpoints, every
// 4,000 pages (wal_autocheckpoint in store.go), because only a checkpoint
// that catches up with the end of the log lets the next write start the log
// again from its beginning; by then little is left to copy. Measured: about
// 10 % more bug reports a second than the default.

// checkpointEvery is how often the checkpointer looks at the log.
const checkpointEvery = 100 * time.Millisecond

type checkpointer struct {
	db *sql.DB
	// paused is held while the checkpointer must keep no connection open
	// (see Store.quiesce).
	paused sync.Mutex
	stop   chan struct{}
	done   chan struct{}
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
			c.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			c.paused.Unlock()
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
