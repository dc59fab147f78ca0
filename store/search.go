package store

import (
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

// fullText is the condition "feedback matches every word (as a prefix when
// it is long enough)" in the database's full-text index: FTS5 on SQLite,
// tsvector on PostgreSQL.
func (s *Store) fullText(words []string) (string, string) {
	const op = "AND"
	parts := make([]string, len(words))
	for i, w := range words {
		prefix := len([]rune(w)) >= SearchPrefixMin
		switch {
		case s.dialect == Postgres && prefix:
			parts[i] = w + ":*"
		case s.dialect == Postgres:
			parts[i] = w
		case prefix:
			parts[i] = `"` + w + `"*`
		default:
			parts[i] = `"` + w + `"`
		}
	}
	if s.dialect == Postgres {
		return "feedback.search @@ to_tsquery('simple', ?)", strings.Join(parts, " & ")
	}
	return "feedback.id IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)", strings.Join(parts, " "+op+" ")
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
