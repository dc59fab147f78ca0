package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"playgate/models"
	"playgate/store"
)

// A backup taken under concurrent writes restores to a sound database that
// holds every write acknowledged before the backup began, and the attachments.
func TestBackupUnderWritesAndRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	admin := &models.User{Email: "a@example.com", Name: "A", Role: models.RoleAdmin, PasswordHash: "x"}
	if err := st.CreateUser(ctx, nil, admin); err != nil {
		t.Fatal(err)
	}
	p := &models.Product{Name: "G", Slug: "g"}
	if err := st.CreateProduct(ctx, admin.ID, p); err != nil {
		t.Fatal(err)
	}
	b := &models.Build{ProductID: p.ID, Version: "1", Policy: models.DefaultPolicy()}
	if err := st.CreateBuild(ctx, admin.ID, b); err != nil {
		t.Fatal(err)
	}
	hash, _ := models.HashPassword("tester-password")
	tester := &models.User{Email: "t@example.com", Name: "T", Role: models.RoleTester, PasswordHash: hash}
	if err := st.CreateUser(ctx, nil, tester); err != nil {
		t.Fatal(err)
	}
	_, token, err := st.CreateInvite(ctx, admin.ID, b.ID, tester.Email, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RedeemInvite(ctx, token, "", "tester-password"); err != nil {
		t.Fatal(err)
	}
	// A screenshot on disk and in the database.
	fb, _, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: b.ID, TesterID: tester.ID, Kind: "other", Title: "with a picture"})
	if err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join("attachments", "shot.png")
	if err := os.WriteFile(filepath.Join(dir, rel), []byte("png bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := st.AddAttachment(ctx, tester.ID, &models.Attachment{FeedbackID: fb.ID, ContentType: "image/png", Size: 9, Width: 1, Height: 1, Path: rel}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var acked []int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				fb, _, err := st.CreateFeedback(ctx, store.NewFeedback{BuildID: b.ID, TesterID: tester.ID, Kind: "other", Title: fmt.Sprintf("w%d-%d", g, i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked = append(acked, fb.ID)
				mu.Unlock()
			}
		}(g)
	}
	var before []int64
	for deadline := time.Now().Add(30 * time.Second); len(before) < 20 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		before = append([]int64(nil), acked...)
		mu.Unlock()
	}
	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	if err := st.Backup(ctx, archive); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // writes go on after the backup
	stop.Store(true)
	wg.Wait()
	if len(before) < 10 {
		t.Fatalf("only %d writes before the backup: the test proves little", len(before))
	}
	if err := st.Backup(ctx, archive); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}

	restored := t.TempDir()
	if err := store.Restore(archive, restored); err != nil {
		t.Fatal(err)
	}
	if err := store.Restore(archive, restored); err == nil {
		t.Fatal("restore into a folder with a database succeeded")
	}
	st2, err := store.Open(ctx, store.Options{DataDir: restored})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if v, err := st2.IntegrityCheck(ctx); err != nil || v != "ok" {
		t.Fatalf("integrity_check: %q %v", v, err)
	}
	for _, id := range before {
		if _, err := st2.Feedback(ctx, id); err != nil {
			t.Fatalf("feedback %d, acknowledged before the backup, is missing: %v", id, err)
		}
	}
	att, err := st2.Attachments(ctx, fb.ID)
	if err != nil || len(att) != 1 {
		t.Fatalf("attachments: %v %v", att, err)
	}
	if data, err := os.ReadFile(filepath.Join(restored, att[0].Path)); err != nil || string(data) != "png bytes" {
		t.Fatalf("attachment file: %q %v", data, err)
	}
}
