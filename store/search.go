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

// fullText is the condition "feedback matches every word (as a prefix)" in
// the database's full-text index: FTS5 on SQLite, tsvector on PostgreSQL.
func (s *Store) fullText(words []string) (string, string) {
	const op = "AND"
	if s.dialect == Postgres {
		parts := make([]string, len(words))
		for i, w := range words {
			parts[i] = w + ":*"
		}
		return "feedback.search @@ to_tsquery('simple', ?)", strings.Join(parts, " & ")
	}
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = `"` + w + `"*`
	}
	return "feedback.id IN (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ?)", strings.Join(parts, " "+op+" ")
}
