package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"
)

// The writer never checkpoints inside a commit, yet the write-ahead log
// starts over once it is long: it does not grow with what is written.
func TestWALStartsOver(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A shorter log than the server's, for a shorter test.
	const restartAt = 4000
	s.checkpoints.restartAt.Store(restartAt)
	if err := s.submit(ctx, func(tx *gorm.DB) error { return tx.Exec("CREATE TABLE filler (b BLOB)").Error }); err != nil {
		t.Fatal(err)
	}
	// Six times restartAt pages, 25 at a time, paced over ten or more of
	// the checkpointer's ticks. The log's file keeps the largest size it
	// reached: restartAt, plus what was written until the
	// next tick and the writer's next batch.
	const pagesPerWrite = 25
	writes := 6 * restartAt / pagesPerWrite
	for range writes {
		err := s.submit(ctx, func(tx *gorm.DB) error {
			return tx.Exec("INSERT INTO filler VALUES (zeroblob(?))", pagesPerWrite*4096).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	info, err := os.Stat(filepath.Join(dir, "playgate.db-wal"))
	if err != nil {
		t.Fatal(err)
	}
	frames := info.Size() / (4096 + 24)
	if frames > 3*restartAt {
		t.Errorf("the log holds %d frames after %d pages written; it should have started over near %d", frames, writes*pagesPerWrite, restartAt)
	}
	var n int
	if err := s.r.Raw("SELECT count(*) FROM filler").Scan(&n).Error; err != nil || n != writes {
		t.Errorf("filler rows %d (%v), want %d", n, err, writes)
	}
}
