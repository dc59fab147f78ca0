package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unsafe"

	"gorm.io/gorm"
)

// The writer's log is written in runs, and every commit is in the file the
// moment it returns: a connection of its own, through SQLite's default VFS,
// reads each row back as it was written, whatever its size (one page to
// more than the buffer holds), and never one a rolled-back write left.
func TestLogWritesInRuns(t *testing.T) {
	ctx := context.Background()
	s, dir := fillerStore(t, 0)
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "playgate.db")+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.SetMaxOpenConns(1)

	content := func(id, size int) []byte {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(id*31 + i*7 + i/4096)
		}
		return b
	}
	writes, flushes := walWrites.Load(), walFlushes.Load()
	errRollBack := errors.New("roll back")
	for id := 1; id <= 160; id++ {
		// Commits of every length from one page to three times what the
		// buffer holds, so that a commit frame falls at each place in it.
		size := id * 2500
		if id%40 == 0 {
			size = 3 * walBufSize // more than the buffer holds
		}
		want := content(id, size)
		if err := s.submit(ctx, func(tx *gorm.DB) error {
			return tx.Exec("INSERT INTO filler (id, b) VALUES (?, ?)", id, want).Error
		}); err != nil {
			t.Fatal(err)
		}
		if id%10 == 0 { // a write rolled back leaves frames no one may read
			err := s.submit(ctx, func(tx *gorm.DB) error {
				if err := tx.Exec("INSERT INTO filler (id, b) VALUES (?, ?)", -id, content(-id, 9000)).Error; err != nil {
					return err
				}
				return errRollBack
			})
			if !errors.Is(err, errRollBack) {
				t.Fatalf("rolled-back write: %v", err)
			}
		}
		var got []byte
		if err := other.QueryRowContext(ctx, "SELECT b FROM filler WHERE id = ?", id).Scan(&got); err != nil {
			t.Fatalf("row %d, read right after its commit: %v", id, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("row %d: read %d bytes that differ from the %d written", id, len(got), len(want))
		}
		var n int
		if err := other.QueryRowContext(ctx, "SELECT count(*) FROM filler").Scan(&n); err != nil || n != id {
			t.Fatalf("after row %d: %d rows (%v)", id, n, err)
		}
	}
	writes, flushes = walWrites.Load()-writes, walFlushes.Load()-flushes
	if writes == 0 {
		t.Fatal("the writer's log was not written through the playgate VFS")
	}
	if flushes*4 > writes {
		t.Errorf("%d writes to the log went to the file in %d calls; want runs", writes, flushes)
	}
	var check string
	if err := other.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q (%v)", check, err)
	}
}

// What the log holds once a commit has returned is what a crash leaves: a
// copy of the database and its log, taken while the store still has them
// open, recovers every committed row. Large transactions spill pages to
// the log before they commit and overwrite them there, so that SQLite
// rewrites the frames' checksums after the commit frame.
func TestLogSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	s, dir := fillerStore(t, 20) // spills early
	for round := 1; round <= 6; round++ {
		rows := 20 + 17*round
		err := s.submit(ctx, func(tx *gorm.DB) error {
			for i := range rows {
				id := round*1000 + i
				if err := tx.Exec("INSERT INTO filler (id, b) VALUES (?, zeroblob(?))", id, 3000+round*100).Error; err != nil {
					return err
				}
			}
			// Every page written above is written again.
			return tx.Exec("UPDATE filler SET b = randomblob(length(b)) WHERE id >= ?", round*1000).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		crashed := t.TempDir()
		for _, name := range []string{"playgate.db", "playgate.db-wal"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(crashed, name), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sql.Open("sqlite", "file:"+filepath.Join(crashed, "playgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var check string
		err = db.QueryRowContext(ctx, "SELECT count(*) FROM filler WHERE id >= ? AND zeroblob(1) <> b", round*1000).Scan(&n)
		if err == nil {
			err = db.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
		}
		db.Close()
		if err != nil || n != rows || check != "ok" {
			t.Fatalf("round %d: the copy recovers %d of %d rows, integrity %q (%v)", round, n, rows, check, err)
		}
	}
}

// A write rolled back after spilling pages to the log leaves nothing that a
// later write of the store could put over what another connection has
// committed since (a command run beside the server).
func TestLogRollbackBesideAnotherWriter(t *testing.T) {
	ctx := context.Background()
	s, dir := fillerStore(t, 50) // spills what does not fit in 50 pages
	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "playgate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	errRollBack := errors.New("roll back")
	for round := 1; round <= 4; round++ {
		// New pages only, spilled to the log and never read back.
		err := s.submit(ctx, func(tx *gorm.DB) error {
			err := tx.Exec("WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < ?) INSERT INTO filler (id, b) SELECT -? * 1000 - v, randomblob(3000) FROM n", 60+20*round, round).Error
			if err != nil {
				return err
			}
			return errRollBack
		})
		if !errors.Is(err, errRollBack) {
			t.Fatalf("round %d: %v", round, err)
		}
		// Another connection commits over the frames the store wrote.
		if _, err := other.ExecContext(ctx, "WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 150) INSERT INTO filler (id, b) SELECT ? * 1000 + v, zeroblob(3000) FROM n", round); err != nil {
			t.Fatal(err)
		}
		if err := s.submit(ctx, func(tx *gorm.DB) error {
			return tx.Exec("INSERT INTO filler (id, b) VALUES (?, zeroblob(100))", round*1000+999).Error
		}); err != nil {
			t.Fatal(err)
		}
		// In place, after a checkpoint: rolled back, nothing is read again
		// from the log, and the frames spilled stay buffered until the
		// write lock is given back.
		if _, err := other.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		err = s.submit(ctx, func(tx *gorm.DB) error {
			if err := tx.Exec("UPDATE filler SET b = randomblob(3000) WHERE id BETWEEN ? AND ?", round*1000, round*1000+150).Error; err != nil {
				return err
			}
			return errRollBack
		})
		if !errors.Is(err, errRollBack) {
			t.Fatalf("round %d: %v", round, err)
		}
		if held := heldByLogs(); held != 0 {
			t.Fatalf("round %d: the logs hold %d bytes after the write lock was given back", round, held)
		}
		var n, bad int
		var check string
		err = other.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE id < 0 OR (id % 1000 <= 150 AND b <> zeroblob(3000))) FROM filler").Scan(&n, &bad)
		if err == nil {
			err = other.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
		}
		if err != nil || n != 151*round || bad != 0 || check != "ok" {
			t.Fatalf("round %d: %d rows (want %d), %d wrong, integrity %q (%v)", round, n, 151*round, bad, check, err)
		}
	}
}

// heldByLogs is what the logs of the process hold, not yet written.
func heldByLogs() int64 {
	links.Lock()
	defer links.Unlock()
	var held int64
	for _, log := range links.logs {
		held += (*walFile)(unsafe.Add(nil, log)).n
	}
	return held
}

// fillerStore opens a store on a new folder with a table filler (id, b),
// its writer keeping cachePages pages in memory (0: SQLite's default).
func fillerStore(t *testing.T, cachePages int) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	err = s.submit(context.Background(), func(tx *gorm.DB) error {
		if err := tx.Exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, b BLOB NOT NULL)").Error; err != nil {
			return err
		}
		if cachePages == 0 {
			return nil
		}
		return tx.Exec("PRAGMA cache_size = " + strconv.Itoa(cachePages)).Error // the writer has one connection
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}
