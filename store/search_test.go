package store

import (
	"context"
	"fmt"
	"maps"
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

// A prefix of a search stands for the words of the index that start with
// it (expandPrefixes): a search finds what a search of the prefix finds, a
// word with more than maxPrefixTerms continuations or with letters the
// index folds keeps its prefix form, and a prefix of no word finds nothing.
func TestSearchPrefixStandsForItsWords(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	titles := []string{"Crash at sea", "Crashes on load", "Crane broken", "Café menu", "cafe prices", "Straße sign"}
	for i := 0; i < maxPrefixTerms+4; i++ {
		titles = append(titles, "zap"+string(rune('a'+i))+" noise")
	}
	must(t, s.SeedFeedback(ctx, w.open, w.t1, len(titles), func(i int, fb *models.Feedback) { fb.Title, fb.Body = titles[i], "" }))

	// every is the search of the words' prefix forms, without the window.
	every := func(words ...string) []int64 {
		var ids []int64
		_, match := s.fullText(words, nil)
		must(t, s.r.Table("feedback").Where("build_id = ? AND id IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)", w.open, match).
			Order("id DESC").Pluck("id", &ids).Error)
		return ids
	}
	for q, n := range map[string]int{"cra": 3, "crash": 2, "CRASHES": 1, "caf": 2, "café": 2, "stra": 1, "straß": 1, "zap": maxPrefixTerms + 4,
		"zapq": 1, "crash sea": 1, "xyz": 0, "crash xyz": 0, "zap noi": maxPrefixTerms + 4} {
		page, _, err := s.ListFeedback(ctx, FeedbackFilter{BuildID: w.open, Q: q, Page: Page{Limit: 100}})
		must(t, err)
		var got []int64
		for _, f := range page {
			got = append(got, f.ID)
		}
		want := every(searchWords(q, 1, 8)...)
		if len(want) != n || !slices.Equal(got, want) {
			t.Errorf("q=%q: found %v, its prefixes match %v (want %d)", q, got, want, n)
		}
	}

	parts, none, err := s.expandPrefixes(ctx, []string{"cra", "café", "zap", "in", "zapq"})
	must(t, err)
	want := map[string]string{"cra": `("crane" OR "crash" OR "crashes")`, "zapq": `("zapq")`}
	if none || !maps.Equal(parts, want) {
		t.Errorf("expanded %v (none %v), want %v: a short word, a word with letters the index folds and a prefix of more than %d words keep their form",
			parts, none, want, maxPrefixTerms)
	}
	if _, none, err := s.expandPrefixes(ctx, []string{"crash", "xyz"}); err != nil || !none {
		t.Errorf("a prefix of no word: none %v (%v), want true", none, err)
	}
}
