package store

import (
	"context"
	"fmt"
	"strings"
	"unicode"
)

// searchWords are the lower-cased words of a search, letters and digits
// only, so nothing the user types reaches the query syntax.
func searchWords(q string, minLen, max int) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(w)) >= minLen && !seen[w] && len(out) < max {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// SearchPrefixMin is the fewest letters of a search word that match as the
// start of a word ("harb" finds "harbour"); shorter words ("a", "in") match
// whole words only. A one- or two-letter prefix matches nearly every item,
// and the full-text index gathers every match of a prefix before it can
// pick the newest: at a million items "q=s" took 370 ms, the whole word a
// few.
const SearchPrefixMin = 3

// The full-text index (SQLite) holds, beside an item's title and body, a
// column of tags: one word for each of the item's kind, status and
// severity, spelled so that no search word is one (searches match the
// title and body only). A search filtered by those then asks FTS5 for the
// items with both its words and the filter's tags, which it finds by
// skipping through both lists: at a million items, a word in half the
// items and a kind none of those items are took 70-140 ms p50, reading
// every match to find that out, and now 18-50 (issue 6, tenth round). The build
// and the change are no tags: most items of a big database are the newest
// build's, whose tag's list, as long as the index, cost more to go through
// than it saved (q=crash+harbor 4.3 -> 14.5 ms); a change's items are few,
// and the probes find its matches (q=the&change_id=298 11 ms, 15-18 with
// a tag).
const (
	tagKind     = "zzk"
	tagStatus   = "zzs"
	tagSeverity = "zzv"
)

// searchTagsSQL is the tags of the feedback row r as SQL, for the full-text
// index's triggers and its content view (migration 12); searchTags makes
// the same words in Go.
func searchTagsSQL(r string) string {
	return "'" + tagKind + "' || " + r + ".kind || ' " + tagStatus + "' || replace(" + r + ".status, '_', '')" +
		" || COALESCE(' " + tagSeverity + "' || " + r + ".severity, '')"
}

// searchTags is an item's tags, as searchTagsSQL makes them.
func searchTags(kind, status string, severity *string) string {
	tags := kindTag(kind) + " " + statusTag(status)
	if severity != nil {
		tags += " " + severityTag(*severity)
	}
	return tags
}

// kindTag, statusTag and severityTag are the tags of one value each.
func kindTag(kind string) string         { return tagKind + kind }
func statusTag(status string) string     { return tagStatus + strings.ReplaceAll(status, "_", "") }
func severityTag(severity string) string { return tagSeverity + severity }

// tagMatch is the part of an FTS5 match that asks for tags, each a word
// of the tags column.
func tagMatch(tags []string) string {
	quoted := make([]string, len(tags))
	for i, t := range tags {
		quoted[i] = ftsQuote(t)
	}
	return "tags : (" + strings.Join(quoted, " AND ") + ")"
}

// fullText is the condition "feedback matches every word (as a prefix when
// it is long enough)" in the database's full-text index: FTS5 on SQLite,
// tsvector on PostgreSQL. On SQLite, parts may give a word's part of the
// match instead (see expandPrefixes).
func (s *Store) fullText(words []string, parts map[string]string) (string, string) {
	out := make([]string, len(words))
	for i, w := range words {
		prefix := len([]rune(w)) >= SearchPrefixMin
		switch {
		case s.dialect == Postgres && prefix:
			out[i] = w + ":*"
		case s.dialect == Postgres:
			out[i] = w
		case parts[w] != "":
			out[i] = parts[w]
		case prefix:
			out[i] = ftsQuote(w) + "*"
		default:
			out[i] = ftsQuote(w)
		}
	}
	if s.dialect == Postgres {
		return "feedback.search @@ to_tsquery('simple', ?)", strings.Join(out, " & ")
	}
	return "feedback.id IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)", "{title body} : (" + strings.Join(out, " AND ") + ")"
}

// ftsQuote is w as an FTS5 string.
func ftsQuote(w string) string { return `"` + strings.ReplaceAll(w, `"`, `""`) + `"` }

// maxPrefixTerms is the most words of the index expandPrefixes lets a
// prefix stand for.
const maxPrefixTerms = 16

// expandPrefixes gives, for each word of a search that matches as a prefix,
// the words of the full-text index it stands for, as a part of an FTS5
// match: "the" becomes ("the" OR "them" OR "there"), the same matches. FTS5
// reads a whole word's matches newest first and stops at the search's
// window, but gathers every match of a prefix into one list before it reads
// any: at a million items "the"* took 50 ms, "the" 1 ms. The words are
// listed through feedback_fts_terms (migration 10), one seek each. A word
// keeps its prefix form when it stands for more than maxPrefixTerms words,
// or has other letters than a-z and digits (the index folds those, and its
// words would have to be folded alike to be found). none is true when a
// word starts no word of the index: nothing can match. A word added to the
// index after the listing is not searched for: the search sees the index
// as it was a moment earlier.
func (s *Store) expandPrefixes(ctx context.Context, words []string) (parts map[string]string, none bool, err error) {
	parts = map[string]string{}
	for _, w := range words {
		if len(w) < SearchPrefixMin || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			continue
		}
		terms, err := s.prefixTerms(ctx, w, maxPrefixTerms+1)
		if err != nil {
			return nil, false, err
		}
		switch {
		case len(terms) == 0:
			return nil, true, nil
		case len(terms) <= maxPrefixTerms:
			for i, t := range terms {
				terms[i] = ftsQuote(t)
			}
			parts[w] = "(" + strings.Join(terms, " OR ") + ")"
		}
	}
	return parts, false, nil
}

// prefixTerms lists up to max words of the full-text index that start with
// prefix, in order, each found by a seek past the one before.
func (s *Store) prefixTerms(ctx context.Context, prefix string, max int) ([]string, error) {
	var terms []string
	from := prefix
	for len(terms) < max {
		var got []string
		err := s.read(ctx).Raw("SELECT term FROM feedback_fts_terms WHERE term >= ? LIMIT 1", from).Scan(&got).Error
		if err != nil {
			return nil, fmt.Errorf("list the words of %q: %w", prefix, err)
		}
		if len(got) == 0 || !strings.HasPrefix(got[0], prefix) {
			break
		}
		terms = append(terms, got[0])
		from = got[0] + "\x01" // the least word after it (the index holds no control characters)
	}
	return terms, nil
}

// similarQuery finds recent items of a build whose title has any of the
// words: arguments are the match, the window, the build, the item to skip
// and the duplicate status.
func (s *Store) similarQuery(words []string) (string, string) {
	if s.dialect == Postgres {
		return `SELECT id, title FROM feedback WHERE search @@ to_tsquery('simple', ?) AND id > (SELECT COALESCE(MAX(id), 0) FROM feedback) - ?
			AND build_id = ? AND id <> ? AND status <> ? ORDER BY id DESC LIMIT 50`, strings.Join(words, " | ")
	}
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = `"` + w + `"`
	}
	return `SELECT f.id, f.title FROM feedback_fts JOIN feedback f ON f.id = feedback_fts.rowid
		WHERE feedback_fts MATCH ? AND feedback_fts.rowid > (SELECT COALESCE(MAX(id), 0) FROM feedback) - ?
		AND f.build_id = ? AND f.id <> ? AND f.status <> ? ORDER BY feedback_fts.rowid DESC LIMIT 50`, "title : (" + strings.Join(parts, " OR ") + ")"
}
