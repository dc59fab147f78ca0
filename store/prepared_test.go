package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// preparedOn gives prepared statements on a connection of a fresh store's
// writer, and that connection.
func preparedOn(t *testing.T) (*preparedStmts, *sql.Conn) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, Options{DataDir: t.TempDir()})
	must(t, err)
	t.Cleanup(func() { s.Close() })
	db, err := s.w.DB()
	must(t, err)
	conn, err := db.Conn(ctx)
	must(t, err)
	p := &preparedStmts{}
	must(t, conn.Raw(func(dc any) error {
		if !p.attach(dc) {
			return errNotAttached
		}
		return nil
	}))
	t.Cleanup(func() { p.close(); conn.Close() })
	return p, conn
}

// quoted reads every value of table v's column x, as SQLite quotes it,
// with its storage class, in rowid order.
func quoted(t *testing.T, conn *sql.Conn, table string) []string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), "SELECT typeof(x) || ' ' || quote(x) FROM "+table+" ORDER BY rowid")
	must(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		must(t, rows.Scan(&s))
		out = append(out, s)
	}
	must(t, rows.Err())
	return out
}

// Values bound by the prepared statements are stored exactly as the
// driver stores them bound as parameters: the same storage class and the
// same bytes, text of any length among them.
func TestPreparedBindsAsTheDriver(t *testing.T) {
	p, conn := preparedOn(t)
	ctx := context.Background()
	_, err := conn.ExecContext(ctx, "CREATE TABLE bound (x); CREATE TABLE driven (x)")
	must(t, err)
	str, id := "it's \"quoted\" ✓", int64(42)
	at := time.Date(2026, 11, 26, 23, 59, 58, 123456789, time.FixedZone("", 3600))
	long := strings.Repeat("0123456789", 1000) // larger than the first block
	values := []any{nil, 7, int64(math.MinInt64), true, false, 2.5, "", str, &str, (*string)(nil),
		&id, (*int64)(nil), at, &at, (*time.Time)(nil), long, "after the long one"}
	for _, v := range values {
		must(t, p.exec("INSERT INTO bound (x) VALUES (?)", v))
		_, err := conn.ExecContext(ctx, "INSERT INTO driven (x) VALUES (?)", v)
		must(t, err)
	}
	// Several texts in one statement, each from its part of the block.
	must(t, p.exec("INSERT INTO bound (x) VALUES (?), (?), (?)", "a", long, "c"))
	for _, v := range []any{"a", long, "c"} {
		_, err := conn.ExecContext(ctx, "INSERT INTO driven (x) VALUES (?)", v)
		must(t, err)
	}
	got, want := quoted(t, conn, "bound"), quoted(t, conn, "driven")
	if len(got) != len(want) {
		t.Fatalf("%d rows bound, %d through the driver", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("value %d: stored %.60s, the driver stores %.60s", i, got[i], want[i])
		}
	}
	if err := p.exec("INSERT INTO bound (x) VALUES (?)", struct{}{}); err == nil || !strings.Contains(err.Error(), "unsupported struct {}") {
		t.Errorf("a value of another type: %v, want unsupported", err)
	}
}

// A statement run while a query's rows are read (from the row callback)
// leaves the query's own text parameters as they were bound.
func TestPreparedStatementInsideAQuery(t *testing.T) {
	p, conn := preparedOn(t)
	_, err := conn.ExecContext(context.Background(), "CREATE TABLE n (i); INSERT INTO n VALUES (1), (2), (3), (4); CREATE TABLE side (x)")
	must(t, err)
	var got []string
	err = p.query("SELECT ? || i FROM n", []any{"outer-"}, func(row rowScanner) error {
		var s string
		if err := row.Scan(&s); err != nil {
			return err
		}
		got = append(got, s)
		// SQLite reads the query's parameter where it was bound, row by
		// row: the same bytes over it would change what the query reads.
		return p.exec("INSERT INTO side (x) VALUES (?)", "INNER!"+s)
	})
	must(t, err)
	if want := "outer-1 outer-2 outer-3 outer-4"; strings.Join(got, " ") != want {
		t.Errorf("query read %q, want %q", got, want)
	}
	side := quoted(t, conn, "side")
	if len(side) != 4 || !strings.HasSuffix(side[3], "outer-4'") {
		t.Errorf("the statements inside the query stored %d rows: %.200s", len(side), fmt.Sprint(side))
	}
}

// A seed writes the same rows, to the byte, whether its INSERTs bind their
// values (prepared statements) or hold them as literals (a driver whose
// connection handle cannot be reached), into empty tables or beside
// another product.
func TestSeedBindsAsLiterals(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var dumps [2]string
	for i, literal := range []bool{false, true} {
		s, err := Open(ctx, Options{DataDir: t.TempDir()})
		must(t, err)
		s.unprepared = literal
		s.SetClock(func() time.Time { return clock })
		spec := SeedSpec{Feedback: 1500, Votes: 200, Changes: 6, Testers: 30, PasswordHash: "$2a$10$not-a-real-hash", Seed: 3}
		_, err = s.Seed(ctx, spec)
		must(t, err)
		_, err = s.Seed(ctx, spec) // a second product: the tables are not empty
		must(t, err)
		var out strings.Builder
		for _, table := range []string{"users", "builds", "changes", "votes", "feedback", "grants", "feedback_days"} {
			var cols []string
			must(t, s.w.Raw("SELECT 'quote(' || name || ')' FROM pragma_table_info(?) ORDER BY cid", table).Scan(&cols).Error)
			order := "rowid"
			if table == "feedback_days" {
				order = "build_id, day" // written from a map
			}
			var rows []string
			must(t, s.w.Raw("SELECT "+strings.Join(cols, " || ',' || ")+" FROM "+table+" ORDER BY "+order).Scan(&rows).Error)
			if len(rows) == 0 {
				t.Fatalf("no rows in %s", table)
			}
			fmt.Fprintln(&out, table, strings.Join(rows, "\n"))
		}
		dumps[i] = out.String()
		must(t, s.Close())
	}
	if dumps[0] != dumps[1] {
		a, b := dumps[0], dumps[1]
		n := 0
		for n < len(a) && n < len(b) && a[n] == b[n] {
			n++
		}
		t.Fatalf("bound and literal seeds differ at byte %d: %.120q against %.120q", n, a[n:], b[n:])
	}
}
