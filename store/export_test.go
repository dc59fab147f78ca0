package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// Test hooks, compiled only into this package's tests.

// MigrateTo applies the migrations up to version and no further, so a test
// can build a database as an earlier release left it.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	create := s.render(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {{ts}} NOT NULL)`)
	if err := s.w.WithContext(ctx).Exec(create).Error; err != nil {
		return err
	}
	for _, m := range migrations {
		if m.version > version {
			break
		}
		err := s.tx(ctx, func(tx *gorm.DB) error {
			for _, stmt := range splitSQL(s.render(m.sql)) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%.60s…: %w", stmt, err)
				}
			}
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, s.now()).Error
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
	}
	return nil
}

// WriterDB is the store's write connection, for tests that seed or inspect
// raw rows.
func (s *Store) WriterDB() *gorm.DB { return s.w }

// parseStoredTime must read every timestamp as the driver does: the same
// instant, location and text in every format, for the driver's own layout
// in UTC (the fast path) and for everything else (the driver's rules); and
// it must refuse what the driver leaves as text.
func TestExportStoredTimeMatchesDriver(t *testing.T) {
	const layout = "2006-01-02 15:04:05.999999999-07:00" // how the driver writes a time.Time
	rng := rand.New(rand.NewPCG(1, 2))
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -(7*3600 + 30*60)), time.FixedZone("", 0)}
	var texts []string
	for i := 0; i < 20000; i++ {
		at := time.Unix(rng.Int64N(4102444800), 0) // 1970 to 2100
		switch i % 4 {
		case 0: // whole seconds
		case 1:
			at = at.Add(time.Duration(rng.Int64N(1e9)))
		case 2:
			at = at.Add(time.Duration(rng.Int64N(1000)) * time.Millisecond)
		case 3:
			at = at.Add(time.Duration(1e9 - 1 - rng.Int64N(10)))
		}
		texts = append(texts, at.In(zones[i%len(zones)]).Format(layout))
	}
	texts = append(texts,
		"2024-02-29 23:59:59.999999999+00:00", "2023-02-29 10:00:00+00:00", "2026-04-31 10:00:00+00:00", "2026-13-01 10:00:00+00:00",
		"2026-01-01 24:00:00+00:00", "2026-01-01 10:60:00+00:00", "2026-01-01 10:00:60+00:00", "2026-01-01 10:00:00.+00:00",
		"2026-01-01 10:00:00.1234567891+00:00", "2026-01-01 10:00:00.000000000+00:00", "2026-01-01 10:00:00-00:00",
		"2026-01-01 1:00:00+00:00", "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.5+01:00", "2026-01-01 10:00:00", "2026-01-01",
		"2026-01-01 10:00", "2026-01-01 10:00:00.123 +0000 UTC", "2026-01-01 10:00:00 +0200 CEST m=+0.001", "0000-01-01 00:00:00+00:00",
		"2026-01-0a 10:00:00+00:00", "2026-01-01 10:00:00+00:00 ", "", "not a time")

	// What the driver makes of each text in a DATETIME column.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "times.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE times (id INTEGER PRIMARY KEY, at DATETIME NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		if _, err := tx.Exec("INSERT INTO times (id, at) VALUES (?, ?)", i, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query("SELECT at FROM times ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var v any
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		s := texts[i]
		got, ok := parseStoredTime(s)
		want, wantOK := v.(time.Time)
		// A FixedZone is a new *Location each time: compare the rest.
		if ok != wantOK || !got.Equal(want) || got.Location().String() != want.Location().String() ||
			(want.Location() == time.UTC && got != want) {
			t.Fatalf("%q: parsed %v (%v), the driver %#v", s, got, ok, v)
		}
		if !ok {
			continue
		}
		for _, f := range []string{time.RFC3339, time.RFC3339Nano, layout} {
			if g, w := got.UTC().Format(f), want.UTC().Format(f); g != w {
				t.Fatalf("%q as %s in UTC: %s, want %s", s, f, g, w)
			}
			if g, w := got.Format(f), want.Format(f); g != w {
				t.Fatalf("%q as %s: %s, want %s", s, f, g, w)
			}
		}
		g, _ := got.MarshalJSON()
		w, _ := want.MarshalJSON()
		if string(g) != string(w) {
			t.Fatalf("%q in JSON: %s, want %s", s, g, w)
		}
	}
	if err := rows.Err(); err != nil || i != len(texts) {
		t.Fatalf("read %d of %d times: %v", i, len(texts), err)
	}
}

// unpackColumns reads back what packedColumns makes, NULLs included, and
// refuses a text that is not exactly that.
func TestExportUnpackColumns(t *testing.T) {
	ints := []*string{ptr("1"), nil, ptr("-42"), ptr("9223372036854775807")}
	texts := []*string{nil, ptr(""), ptr(":"), ptr(","), ptr("12:34"), ptr("0:"), ptr("naïve ✓"), ptr("a\x00b"), ptr(strings.Repeat("x", 1000))}
	// As SQLite's concat(i, ',', …, octet_length(t), ':', t, …) builds it.
	var p strings.Builder
	for _, v := range ints {
		if v != nil {
			p.WriteString(*v)
		}
		p.WriteString(",")
	}
	for _, v := range texts {
		if v == nil {
			p.WriteString(":")
			continue
		}
		p.WriteString(strconv.Itoa(len(*v)) + ":" + *v)
	}
	values := append(ints, texts...)
	fields, valid := make([]string, len(values)), make([]bool, len(values))
	if !unpackColumns(p.String(), len(ints), fields, valid) {
		t.Fatalf("%q does not unpack", p.String())
	}
	for i, v := range values {
		if (v == nil) == valid[i] || (v != nil && fields[i] != *v) {
			t.Errorf("column %d: %q (%v), want %v", i, fields[i], valid[i], v)
		}
	}
	for _, bad := range []string{p.String() + "x", p.String()[:p.Len()-1], "", "1,2,3,4,5:abc", "1,2,3,4,x:abc", "1,2,3,4,99999999999:a", "1,2,3"} {
		if unpackColumns(bad, len(ints), fields, valid) {
			t.Errorf("%.60q unpacks", bad)
		}
	}
}

func ptr(s string) *string { return &s }

// An export that fn stops early, or that its caller cancels, ends with that
// error, and the goroutine reading the rows lets its connection go: more
// stopped exports than the pool has readers still leave a full one possible.
func TestExportStopsReading(t *testing.T) {
	s, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	must(t, err)
	defer s.Close()
	w := newIngestWorld(t, s)
	const n = 20*exportBatchRows + 7 // more than the batches in flight
	must(t, s.SeedFeedback(context.Background(), w.open, w.t1, n, func(int, *models.Feedback) {}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	enough := errors.New("enough")
	for i := range 20 {
		seen := 0
		err := s.ExportFeedback(ctx, w.open, func(*ExportRow) error {
			if seen++; seen > exportBatchRows+10 {
				return enough
			}
			return nil
		})
		if !errors.Is(err, enough) {
			t.Fatalf("stop %d: %v, want fn's error", i, err)
		}
		stopped, stop := context.WithCancel(ctx)
		seen = 0
		err = s.ExportFeedback(stopped, w.open, func(*ExportRow) error {
			if seen++; seen == 2*exportBatchRows {
				stop()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancel %d: %v after %d rows, want context.Canceled", i, err, seen)
		}
	}
	var ids []int64
	must(t, s.ExportFeedback(ctx, w.open, func(r *ExportRow) error { ids = append(ids, r.ID); return nil }))
	if len(ids) != n || !slices.IsSorted(ids) {
		t.Fatalf("full export: %d rows (sorted %v), want %d in id order", len(ids), slices.IsSorted(ids), n)
	}
}
