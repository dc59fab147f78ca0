package store

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"playgate/models"
)

// A search first looks among the newest matches of the whole index; what
// it answers must be what a search of every match gives: for a build whose
// matches are all older than that window, for the newest build page after
// page below it, and with a filter that few of the window's matches pass.
func TestSearchPagesMatchEveryMatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	old, recent := w.open, w.other
	must(t, s.SeedFeedback(ctx, old, w.t1, 30, func(i int, fb *models.Feedback) { fb.Title = fmt.Sprintf("Harbor crane %d", i) }))
	n := 2 * searchWindow // two thirds match: more than the window
	must(t, s.SeedFeedback(ctx, recent, w.t1, n, func(i int, fb *models.Feedback) {
		fb.Title = fmt.Sprintf("Harbor lights %d", i)
		if i%500 == 7 {
			fb.Status = "resolved"
		}
		if i%3 == 0 {
			fb.Title = fmt.Sprintf("Desert wind %d", i)
		}
	}))
	// every is the search without the window: ids of the build's items
	// matching "harbor", newest first, with the filter.
	every := func(build int64, status string) []int64 {
		var ids []int64
		q := s.r.Table("feedback").Where("build_id = ? AND id IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)", build, `"harbor"*`)
		if status != "" {
			q = q.Where("status = ?", status)
		}
		must(t, q.Order("id DESC").Pluck("id", &ids).Error)
		return ids
	}
	search := func(build int64, status string, limit int) []int64 {
		var ids []int64
		var after int64
		for {
			page, cursor, err := s.ListFeedback(ctx, FeedbackFilter{BuildID: build, Status: status, Q: "harbor", Page: Page{Limit: limit, After: after}})
			must(t, err)
			for _, f := range page {
				ids = append(ids, f.ID)
			}
			if cursor == "" {
				return ids
			}
			var ok bool
			if after, ok = DecodeCursor(cursor); !ok {
				t.Fatalf("cursor %q", cursor)
			}
		}
	}
	for _, c := range []struct {
		name   string
		build  int64
		status string
		limit  int
		least  int
	}{
		{"an older build", old, "", 50, 30},
		{"the newest build, page by page", recent, "", 100, n / 2},
		{"the newest build, few pass the filter", recent, "resolved", 50, 3},
	} {
		want := every(c.build, c.status)
		if len(want) < c.least {
			t.Fatalf("%s: the fixture matches %d items, want at least %d", c.name, len(want), c.least)
		}
		if got := search(c.build, c.status, c.limit); !slices.Equal(got, want) {
			t.Errorf("%s: search found %d items, every match %d (first %v / %v)", c.name, len(got), len(want), got[:min(3, len(got))], want[:3])
		}
	}
}
