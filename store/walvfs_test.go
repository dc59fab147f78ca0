package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"gorm.io/gorm"
)

// The writer's log is written in runs, and every commit is in the file the
// moment it returns: a connection of its own, through SQLite's default VFS,
// reads each row back as it was written, whatever its size (one page, many,
// more than the buffer holds), and never one a rolled-back write left.
func TestLogWritesInRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.submit(ctx, func(tx *gorm.DB) error {
		return tx.Exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, b BLOB NOT NULL)").Error
	}); err != nil {
		t.Fatal(err)
	}
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
	for id := 1; id <= 120; id++ {
		size := id % 7 * 2500 // 0 to 15,000 bytes: no page to four
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
