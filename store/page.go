package store

import (
	"encoding/base64"
	"strconv"

	"gorm.io/gorm"
)

// Page is one keyset page of a list, newest first: items with an id below
// After (0: from the newest).
type Page struct {
	After int64
	Limit int
}

// size is how many items the page holds: Limit, or DefaultLimit when unset.
func (p Page) size() int {
	if p.Limit <= 0 {
		return DefaultLimit
	}
	return p.Limit
}

// Pagination limits of the contract.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// EncodeCursor makes the opaque cursor that continues after id.
func EncodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("i" + strconv.FormatInt(id, 10)))
}

// DecodeCursor reads a cursor made by EncodeCursor.
func DecodeCursor(c string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'i' {
		return 0, false
	}
	id, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// keyset runs q for one page into out (a pointer to a slice) and returns the
// next cursor, or "" at the end. Keyset on the primary key: stable when rows
// are inserted meanwhile, since new rows get higher ids.
func keyset[T any](q *gorm.DB, p Page, out *[]T, id func(int) int64) (string, error) {
	limit := p.size()
	if p.After > 0 {
		q = q.Where("id < ?", p.After)
	}
	if err := q.Order("id DESC").Limit(limit + 1).Find(out).Error; err != nil {
		return "", err
	}
	if len(*out) > limit {
		*out = (*out)[:limit]
		return EncodeCursor(id(limit - 1)), nil
	}
	return "", nil
}
