package models

import (
	"strings"
	"unicode/utf8"
)

// Feedback kinds and statuses of the contract.
var (
	Kinds    = []string{"bug", "suggestion", "praise", "other"}
	Statuses = []string{"new", "acknowledged", "in_progress", "resolved", "wont_fix", "duplicate"}
)

// KindBug is the one kind that carries a severity.
const KindBug = "bug"

// StatusDuplicate marks an item folded into another.
const StatusDuplicate = "duplicate"

// Open reports whether a status still needs work (new, acknowledged, in_progress).
func Open(status string) bool {
	return status == "new" || status == "acknowledged" || status == "in_progress"
}

// Feedback limits of the contract.
const (
	MaxTitle = 200
	MaxBody  = 10000
)

// ValidateFeedback checks a new item's values and returns why each field is
// wrong, keyed by its JSON name.
func ValidateFeedback(kind string, severity *string, title, body string, p Platform) map[string]string {
	errs := map[string]string{}
	if !oneOf(kind, Kinds) {
		errs["kind"] = "must be one of bug, suggestion, praise, other"
	}
	switch {
	case kind == KindBug && (severity == nil || *severity == ""):
		errs["severity"] = "is required for bugs: low, medium, high or critical"
	case kind == KindBug && SeverityRank(*severity) == 0:
		errs["severity"] = "must be one of low, medium, high, critical"
	case kind != KindBug && severity != nil && *severity != "":
		errs["severity"] = "is only for bugs"
	}
	if t := strings.TrimSpace(title); t == "" {
		errs["title"] = "is required"
	} else if utf8.RuneCountInString(title) > MaxTitle {
		errs["title"] = "must be at most 200 characters"
	}
	if utf8.RuneCountInString(body) > MaxBody {
		errs["body"] = "must be at most 10000 characters"
	}
	for field, v := range map[string]string{"platform.os": p.OS, "platform.device": p.Device, "platform.client_version": p.ClientVersion} {
		if utf8.RuneCountInString(v) > 100 {
			errs[field] = "must be at most 100 characters"
		}
	}
	return errs
}

// ValidStatus reports whether s is a feedback status.
func ValidStatus(s string) bool { return oneOf(s, Statuses) }

// ValidKind reports whether k is a feedback kind.
func ValidKind(k string) bool { return oneOf(k, Kinds) }

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

// stopWords carry no meaning of their own in a bug title.
var stopWords = map[string]bool{"the": true, "and": true, "for": true, "with": true, "when": true, "not": true, "are": true,
	"was": true, "you": true, "this": true, "that": true, "from": true, "into": true, "have": true, "has": true, "after": true,
	"before": true, "can": true, "cannot": true, "does": true, "doesn": true, "don": true, "its": true, "while": true, "then": true,
	"there": true, "all": true, "any": true, "too": true, "very": true, "but": true, "out": true, "off": true, "get": true, "gets": true}

// TitleWords are the lower-cased words of a title that similarity compares
// (three letters or more, without stop words).
func TitleWords(title string) []string {
	seen := map[string]bool{}
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(title), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	}) {
		if utf8.RuneCountInString(w) >= 3 && !seen[w] && !stopWords[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// TitleSimilarity is the Jaccard index of two titles' word sets, in [0, 1].
func TitleSimilarity(a, b []string) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	set := map[string]bool{}
	for _, w := range a {
		set[w] = true
	}
	common := 0
	for _, w := range b {
		if set[w] {
			common++
		}
	}
	return float64(common) / float64(len(a)+len(b)-common)
}
