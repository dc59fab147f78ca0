package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"playgate/models"
)

// A seed into an empty database builds the full-text index beside the rows
// (seedfts.go): the index is whole and right (FTS5's own check against the
// items), items filed and loaded after the seed are indexed on top of it,
// and the scratch database is gone. A load without the items' ids, or into
// a table that holds items, fills the index otherwise, as rightly. Either
// way a filled index's one segment is above level 0 (raiseSegments).
func TestSeedBuildsTheIndexBesideTheRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{DataDir: dir})
	must(t, err)
	defer s.Close()
	var built []string
	testHookFTSSide = func(table string) { built = append(built, table) }
	defer func() { testHookFTSSide = nil }()

	const n = 3*ftsSideBatch + 17 // batches and a part of one
	res, err := s.Seed(ctx, SeedSpec{Feedback: n, Votes: 50, Changes: 4, Testers: 12, PasswordHash: "x"})
	must(t, err)
	if !slices.Equal(built, []string{"feedback_fts"}) {
		t.Fatalf("indexes built beside the seed: %v, want [feedback_fts]", built)
	}
	if _, err := os.Stat(filepath.Join(dir, "playgate.db.seed-fts")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the scratch database is still there (%v)", err)
	}
	check := func(s *Store, when string) {
		t.Helper()
		// The seed leaves every item indexed (ftsindex.go).
		if mark, newest := ftsMark(t, rawDB(t, s)); mark != newest || newest == 0 {
			t.Errorf("%s: mark %d, newest item %d", when, mark, newest)
		}
		if err := checkFTS(s); err != nil {
			t.Fatalf("%s: the full-text index does not match the items: %v", when, err)
		}
	}
	check(s, "after the seed")
	var structure []byte
	must(t, s.r.Raw("SELECT block FROM feedback_fts_data WHERE id = ?", ftsStructureID).Row().Scan(&structure))
	if levels := ftsLevels(t, structure); len(levels) < 2 || len(levels[len(levels)-1]) != 1 || len(levels[0]) != 0 {
		t.Errorf("the seeded index's segments by level: %v, want one, above level 0", levels)
	}
	var indexed int
	must(t, s.r.Raw("SELECT COUNT(*) FROM feedback_fts WHERE feedback_fts MATCH 'crash OR lag OR the OR a'").Scan(&indexed).Error)
	if seeded := res.Rows["feedback"]; seeded < n || indexed < int(seeded)/2 {
		t.Errorf("%d of %d seeded items found by common words", indexed, seeded)
	}

	// Items filed and loaded after the index was copied into place.
	built = nil
	var tester int64
	must(t, s.r.Raw("SELECT user_id FROM grants WHERE build_id = ? ORDER BY user_id LIMIT 1", res.BuildID).Scan(&tester).Error)
	_, _, err = s.CreateFeedback(ctx, NewFeedback{BuildID: res.BuildID, TesterID: tester, Kind: "suggestion", Title: "Lighthouse beacon", Body: "brighter"})
	must(t, err)
	must(t, s.SeedFeedback(ctx, res.BuildID, tester, 5, func(i int, fb *models.Feedback) { fb.Title = "Lighthouse" }))
	if len(built) != 0 {
		t.Errorf("a load into a table with items built %v beside it", built)
	}
	check(s, "after more items")
	page, _, err := s.ListFeedback(ctx, FeedbackFilter{BuildID: res.BuildID, Q: "lighthouse", Page: Page{Limit: 50}})
	must(t, err)
	if len(page) != 6 {
		t.Errorf("q=lighthouse found %d items, want 6", len(page))
	}

	// Without the items' ids (SeedFeedback), into an empty database.
	s2, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s2.Close()
	w := newIngestWorld(t, s2)
	must(t, s2.SeedFeedback(ctx, w.open, w.t1, n, func(i int, fb *models.Feedback) {
		fb.Title, fb.Body = "Harbor crane", fmt.Sprintf("item%d part%d", i, i*7)
	}))
	if len(built) != 0 {
		t.Errorf("a load without ids built %v beside it", built)
	}
	check(s2, "filled at the end")
	must(t, s2.r.Raw("SELECT block FROM feedback_fts_data WHERE id = ?", ftsStructureID).Row().Scan(&structure))
	if levels := ftsLevels(t, structure); len(levels) < 2 || len(levels[len(levels)-1]) != 1 || len(levels[0]) != 0 {
		t.Errorf("the index filled at the end: segments by level %v, want one, above level 0", levels)
	}
	_, _, err = s2.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "other", Title: "Harbor lights"})
	must(t, err)
	must(t, s2.ftsReady(ctx))
	check(s2, "filled at the end, then an item filed")
}

// ftsLevels reads an FTS5 structure record: the segments of each level.
func ftsLevels(t *testing.T, block []byte) [][]uint64 {
	t.Helper()
	var v []uint64
	for i := 4; i < len(block); {
		x, n := getVarint(block[i:])
		if n == 0 {
			t.Fatalf("structure record %x ends inside a varint", block)
		}
		v, i = append(v, x), i+n
	}
	levels := make([][]uint64, v[0])
	at := 3
	for l := range levels {
		nSeg := int(v[at+1])
		at += 2
		for range nSeg {
			levels[l] = append(levels[l], v[at])
			at += 3
		}
	}
	return levels
}

func TestRaiseSegments(t *testing.T) {
	record := func(vals ...uint64) []byte {
		b := []byte{0, 0, 0, 5}
		for _, x := range vals {
			b = appendVarint(b, x)
		}
		return b
	}
	for _, c := range []struct {
		name string
		in   []byte
		want []byte // nil: left as it is
	}{
		{"a segment of 40,000 pages", record(1, 1, 7, 0, 1, 3, 1, 40000), record(5, 1, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 1, 40000)},
		{"of 32 pages", record(1, 1, 7, 0, 1, 3, 1, 32), record(2, 1, 7, 0, 0, 0, 1, 3, 1, 32)},
		{"of 33 pages", record(1, 1, 7, 0, 1, 3, 1, 33), record(3, 1, 7, 0, 0, 0, 0, 0, 1, 3, 1, 33)},
		{"of 2 pages, as a batch makes", record(1, 1, 7, 0, 1, 3, 1, 2), nil},
		{"two segments, the older bigger", record(1, 2, 7, 0, 2, 3, 1, 900, 4, 901, 950),
			record(4, 2, 7, 0, 0, 0, 0, 0, 1, 4, 901, 950, 0, 1, 3, 1, 900)},
		{"two segments, the newer bigger: none older below a newer", record(1, 2, 7, 0, 2, 3, 1, 50, 4, 51, 950),
			record(3, 2, 7, 0, 0, 0, 0, 0, 2, 3, 1, 50, 4, 51, 950)},
		{"two segments of 2 pages", record(1, 2, 7, 0, 2, 3, 1, 2, 4, 3, 4), nil},
		{"fewer segments than it says", record(1, 2, 7, 0, 1, 3, 1, 900), nil},
		{"a page range backwards", record(1, 1, 7, 0, 1, 3, 900, 1), nil},
		{"a segment being merged", record(1, 1, 7, 1, 1, 3, 1, 900), nil},
		{"a segment at level 1", record(2, 1, 7, 0, 0, 0, 1, 3, 1, 900), nil},
		{"more after it", append(record(1, 1, 7, 0, 1, 3, 1, 900), 0), nil},
		{"a cut varint", append(record(1, 1, 7, 0, 1, 3, 1, 900), 0x81), nil},
		{"no cookie", []byte{0, 0}, nil},
	} {
		got, ok := raiseSegments(c.in, 2)
		if ok != (c.want != nil) || ok && !slices.Equal(got, c.want) {
			t.Errorf("%s: %x (%v), want %x", c.name, got, ok, c.want)
		}
	}
	for _, x := range []uint64{0, 1, 127, 128, 240, 16383, 16384, 1<<56 - 1, 1 << 56, 1<<64 - 1} {
		b := appendVarint([]byte{9}, x)
		if got, n := getVarint(b[1:]); got != x || n != len(b)-1 {
			t.Errorf("varint %d: %x reads back as %d in %d bytes", x, b[1:], got, n)
		}
	}
	if got := appendVarint(nil, 300); !slices.Equal(got, []byte{0x82, 0x2c}) {
		t.Errorf("varint 300 is %x, SQLite writes 822c", got)
	}
}
