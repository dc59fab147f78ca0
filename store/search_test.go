package store

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"

	"playgate/models"
)

// A search first looks among the newest matches from its filter's newest
// item down, then probes the newest items its filters let through, then
// merges the filter's items with every match or looks every match up
// (searchPage); whichever way it takes, what it answers must be what a
// search of every match gives: for an older build, with few items or more
// than the probes reach, for the newest build page after page, and with
// filters that few items pass, that none of the matches pass, or that
// many items pass and few matches.
func TestSearchPagesMatchEveryMatch(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	small, old, recent := w.closed, w.open, w.other
	must(t, s.SeedFeedback(ctx, small, w.t1, 30, func(i int, fb *models.Feedback) { fb.Title = fmt.Sprintf("Harbor crane %d", i) }))
	// The older build: more items than the probes reach, the newest 50
	// matches at its newest end, 30 more at its oldest, praise that never
	// matches.
	m := searchProbes + 200
	must(t, s.SeedFeedback(ctx, old, w.t1, m, func(i int, fb *models.Feedback) {
		switch {
		case i < 30 || i >= m-100 && i%2 == 0:
			fb.Title = fmt.Sprintf("Harbor dune %d", i)
		case i%3 == 0:
			fb.Title, fb.Kind = fmt.Sprintf("Desert praise %d", i), "praise"
		default:
			fb.Title = fmt.Sprintf("Desert dune %d", i)
		}
	}))
	// The newest build: half its items match, more than the window holds;
	// the other half are suggestions, more than the probes reach, of which
	// only the five oldest and the newest match.
	n := 3 * searchProbes
	must(t, s.SeedFeedback(ctx, recent, w.t1, n, func(i int, fb *models.Feedback) {
		fb.Title, fb.Kind = fmt.Sprintf("Harbor lights %d", i), "other"
		if i%500 == 7 {
			fb.Status = "resolved"
		}
		switch {
		case i%2 == 0 && (i < 10 || i == n-2):
			fb.Title, fb.Kind = fmt.Sprintf("Harbor wind %d", i), "suggestion"
		case i%2 == 0:
			fb.Title, fb.Kind = fmt.Sprintf("Desert wind %d", i), "suggestion"
		}
	}))
	// every is the search without the window or the probes: ids of the
	// filter's items matching "harbor", newest first.
	every := func(f FeedbackFilter) []int64 {
		var ids []int64
		q := s.r.Table("feedback").Where("build_id = ? AND id IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)", f.BuildID, `"harbor"*`)
		if f.Status != "" {
			q = q.Where("status = ?", f.Status)
		}
		if f.Kind != "" {
			q = q.Where("kind = ?", f.Kind)
		}
		must(t, q.Order("id DESC").Pluck("id", &ids).Error)
		return ids
	}
	search := func(f FeedbackFilter) []int64 {
		ids := []int64{}
		f.Q = "harbor"
		for {
			page, cursor, err := s.ListFeedback(ctx, f)
			must(t, err)
			for _, it := range page {
				if it.Title == "" || it.TesterName == "" || it.BuildID != f.BuildID {
					t.Fatalf("a search of build %d answered item %d as %+v", f.BuildID, it.ID, it)
				}
				ids = append(ids, it.ID)
			}
			if cursor == "" {
				return ids
			}
			var ok bool
			if f.Page.After, ok = DecodeCursor(cursor); !ok {
				t.Fatalf("cursor %q", cursor)
			}
		}
	}
	for _, c := range []struct {
		name  string
		f     FeedbackFilter
		least int
	}{
		{"an older build of few items", FeedbackFilter{BuildID: small, Page: Page{Limit: 50}}, 30},
		{"an older build, pages the probes fill", FeedbackFilter{BuildID: old, Page: Page{Limit: 20}}, 80},
		{"an older build, pages they do not fill", FeedbackFilter{BuildID: old, Page: Page{Limit: 60}}, 80},
		{"an older build, a kind no match has", FeedbackFilter{BuildID: old, Kind: "praise", Page: Page{Limit: 50}}, 0},
		{"the newest build, page by page", FeedbackFilter{BuildID: recent, Page: Page{Limit: 100}}, n / 2},
		{"the newest build, few pass the filter", FeedbackFilter{BuildID: recent, Status: "resolved", Page: Page{Limit: 50}}, 12},
		{"the newest build, a kind few matches have", FeedbackFilter{BuildID: recent, Kind: "suggestion", Page: Page{Limit: 2}}, 6},
	} {
		want := every(c.f)
		if c.f.Kind == "suggestion" && len(want) != 6 {
			t.Fatalf("%s: the fixture matches %d items, want 6", c.name, len(want))
		}
		if len(want) < c.least || c.least == 0 && len(want) != 0 {
			t.Fatalf("%s: the fixture matches %d items, want at least %d", c.name, len(want), c.least)
		}
		// Each way of going through every match, and the one the costs pick.
		for _, costs := range []struct {
			name          string
			probe, lookup float64
		}{
			{"as estimated", searchCosts.probe, searchCosts.lookup},
			{"merged", 0, math.Inf(1)},
			{"probed, then looked up", math.Inf(1), 0},
		} {
			was := searchCosts
			searchCosts.probe, searchCosts.lookup = costs.probe, costs.lookup
			got := search(c.f)
			searchCosts = was
			if !slices.Equal(got, want) {
				t.Errorf("%s, %s: search found %d items, every match %d (first %v / %v)", c.name, costs.name, len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
			}
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

// A search with filters asks the full-text index for the filters' tags
// (searchTags), which follow the item: a triage moves its tags with it,
// and the index stays what its content view makes of the items. Search
// words match the title and body only, never a tag.
func TestSearchTagsFollowTheItem(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	sev := "high"
	fb, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, ChangeID: &w.c1, Kind: "bug", Severity: &sev, Title: "Harbor crash", Body: "at dusk"})
	must(t, err)
	_, _, err = s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t1, Kind: "praise", Title: "Harbor music"})
	must(t, err)
	found := func(f FeedbackFilter) []int64 {
		t.Helper()
		if f.BuildID == 0 {
			f.BuildID = w.open
		}
		return searchIDs(t, s, f)
	}
	c2 := w.c2
	cases := func(when string, want map[string]bool) {
		t.Helper()
		for name, f := range map[string]FeedbackFilter{
			"kind=bug":         {Q: "harbor", Kind: "bug"},
			"severity=high":    {Q: "harbor", Severity: "high"},
			"status=new":       {Q: "crash", Status: "new"},
			"status=wont_fix":  {Q: "crash", Status: "wont_fix"},
			"change=c1":        {Q: "dusk", ChangeID: &w.c1},
			"change=c2":        {Q: "dusk", ChangeID: &c2},
			"everything":       {Q: "harbor dusk", Kind: "bug", Severity: "high", Status: "new", ChangeID: &w.c1},
			"other build":      {Q: "harbor", BuildID: w.other},
			"words, not tags":  {Q: "zzkbug"},
			"prefix, not tags": {Q: "zzk"},
		} {
			got := found(f)
			if has := slices.Contains(got, fb.ID); has != want[name] {
				t.Errorf("%s, %s: found %v, the bug in it: %v, want %v", when, name, got, has, want[name])
			}
		}
		// The index holds what its content view makes of every item.
		must(t, checkFTS(s))
	}
	cases("as filed", map[string]bool{"kind=bug": true, "severity=high": true, "status=new": true, "change=c1": true, "everything": true})
	_, err = s.SetFeedbackStatus(ctx, w.t1, fb.ID, "wont_fix", nil)
	must(t, err)
	cases("triaged", map[string]bool{"kind=bug": true, "severity=high": true, "status=wont_fix": true, "change=c1": true})
	must(t, s.w.Exec("UPDATE feedback SET change_id = ? WHERE id = ?", w.c2, fb.ID).Error)
	cases("moved to another change", map[string]bool{"kind=bug": true, "severity=high": true, "status=wont_fix": true, "change=c2": true})
	if n := len(found(FeedbackFilter{Q: "harbor", Kind: "praise"})); n != 1 {
		t.Errorf("q=harbor&kind=praise: %d items, want the praise", n)
	}
}

// segmentsByLevel reads the segments of each level of feedback_fts.
func segmentsByLevel(t *testing.T, s *Store) [][]uint64 {
	t.Helper()
	var block []byte
	must(t, s.w.Raw("SELECT block FROM feedback_fts_data WHERE id = ?", ftsStructureID).Row().Scan(&block))
	return ftsLevels(t, block)
}

// Migration 12 rebuilds the full-text index of a database that has items,
// with their tags, and raises its one segment to the level its size
// belongs to; the writer then adds to it without putting it back at
// level 0, where every merge of the writer's segments would rewrite it.
func TestMigrationRebuildsTheIndexWithTags(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	must(t, s.SeedFeedback(ctx, w.open, w.t1, 3000, func(i int, fb *models.Feedback) {
		fb.Title, fb.Body = fmt.Sprintf("Harbor crane %d", i), "the lights flicker at dusk near the old harbor crane"
		if i%3 == 0 {
			fb.Kind = "praise"
		}
	}))
	// The database as migration 11 left it, with an index without tags.
	must(t, s.w.Exec("DELETE FROM schema_migrations WHERE version >= 12").Error)
	for _, stmt := range []string{"DROP TRIGGER feedback_fts_insert", "DROP TRIGGER feedback_fts_delete", "DROP TRIGGER feedback_fts_update",
		"DROP TABLE feedback_fts_terms", "DROP TABLE feedback_fts", "DROP VIEW feedback_fts_content", "DROP TABLE feedback_fts_state"} {
		must(t, s.w.Exec(stmt).Error)
	}
	for _, v := range []int{6, 8, 9, 10} { // the index of title and body, its settings, its words
		for _, stmt := range migrations[v-1].perDialect[SQLite] {
			must(t, s.w.Exec(stmt).Error)
		}
	}
	must(t, s.Migrate(ctx))
	// Migration 13: the rebuilt index holds every item.
	if mark, newest := ftsMark(t, rawDB(t, s)); mark != newest || newest == 0 {
		t.Errorf("after the migrations, mark %d, newest item %d", mark, newest)
	}

	rebuilt := segmentsByLevel(t, s)
	if len(rebuilt) < 2 || len(rebuilt[len(rebuilt)-1]) != 1 || len(rebuilt[0]) != 0 {
		t.Fatalf("the rebuilt index's segments by level: %v, want one, above level 0", rebuilt)
	}
	for i := range 40 {
		_, _, err := s.CreateFeedback(ctx, NewFeedback{BuildID: w.open, TesterID: w.t2, Kind: "praise", Title: fmt.Sprintf("Harbor song %d", i)})
		must(t, err)
	}
	must(t, s.ftsReady(ctx))
	if after := segmentsByLevel(t, s); len(after) != len(rebuilt) || !slices.Equal(after[len(after)-1], rebuilt[len(rebuilt)-1]) {
		t.Errorf("after 40 writes, segments by level %v, want the rebuilt segment %v where it was", after, rebuilt)
	}
	must(t, checkFTS(s))
	page, _, err := s.ListFeedback(ctx, FeedbackFilter{BuildID: w.open, Q: "harbor", Kind: "praise", Page: Page{Limit: 2000}})
	must(t, err)
	if len(page) != 1000+40 {
		t.Errorf("q=harbor&kind=praise: %d items, want %d", len(page), 1000+40)
	}
}

// A list with a change walks the change's items, through its index, whatever
// other filter it has: SQLite would pick the index of a kind, severity or
// status (two of its columns match), whose items at a million are many
// times a change's. A list with one filter walks that filter's index, in
// the page's order (no sort).
func TestListsWalkTheirIndex(t *testing.T) {
	s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	change := int64(7)
	plan := func(f FeedbackFilter) string {
		filter := s.itemFilter(f)
		var rows []struct {
			ID, Parent, Notused int
			Detail              string
		}
		must(t, s.r.Raw("EXPLAIN QUERY PLAN SELECT feedback.id FROM feedback WHERE "+filter.cond+" ORDER BY feedback.id DESC LIMIT 51",
			filter.args...).Scan(&rows).Error)
		var steps []string
		for _, r := range rows {
			steps = append(steps, r.Detail)
		}
		return strings.Join(steps, "; ")
	}
	for _, f := range []FeedbackFilter{
		{BuildID: 1, ChangeID: &change, Status: "wont_fix"},
		{BuildID: 1, ChangeID: &change, Kind: "bug", Severity: "critical", Status: "new"},
	} {
		if got := plan(f); !strings.Contains(got, "USING INDEX feedback_change (change_id=?)") {
			t.Errorf("%+v: plan %q, want the index by change", f, got)
		}
	}
	for _, tc := range []struct {
		f    FeedbackFilter
		want string
	}{
		{FeedbackFilter{BuildID: 1, Status: "wont_fix"}, "INDEX feedback_build_status (build_id=? AND status=?)"},
		{FeedbackFilter{BuildID: 1, Severity: "critical"}, "INDEX feedback_build_severity (build_id=? AND severity=?)"},
	} {
		got := plan(tc.f)
		if !strings.Contains(got, tc.want) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("%+v: plan %q, want %q and no sort", tc.f, got, tc.want)
		}
	}
}
