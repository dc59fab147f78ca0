package store

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// Prepared statements for the SQLite writer. The driver behind the required
// gorm dialector (github.com/glebarez/go-sqlite) parses and plans every
// statement again on every call: for the writer's set-based ingest, whose
// dozen statements run for every batch, that was 8-11 % of the server's
// CPU. So the writer runs those statements itself, on the connection of
// its transaction, each prepared once and kept (the SQLite library is the
// driver's own, modernc.org/sqlite/lib).
//
// The driver does not export its connection's handle: preparedStmts reads
// it from the driver's connection with reflect. If the driver's layout is
// not the one expected, attach says so and the writer runs every statement
// through gorm, as before. The statements keep a libc thread state of their
// own: the driver closes its connection's with the connection, and a
// connection the pool replaced (sqlite3_close_v2) is only freed once its
// last statement is finalized.

// preparedStmts are the writer's statements on one connection. Only the
// writer goroutine uses them, between the driver's own calls.
type preparedStmts struct {
	db    uintptr // sqlite3*
	tls   *libc.TLS
	stmts map[string]uintptr // sqlite3_stmt* by SQL text
	// The text values of a statement's parameters are gathered in text,
	// then copied into block, in the library's memory, and bound from
	// there without another copy (SQLITE_STATIC) until the statement is
	// reset: one copy of all, where each value cost an allocation, a copy,
	// SQLite's own copy and a free (8 % of a seed's CPU).
	text     []byte
	texts    []boundText
	block    uintptr
	blockCap int
	// reading counts the queries whose rows are being read: a statement
	// run meanwhile (from a row's callback) binds copies of its text, as
	// block holds the reading query's.
	reading int
}

// boundText is a text parameter: its place and its bytes in text.
type boundText struct {
	at       int32
	off, len int
}

// driverConn reads the sqlite3* handle of a github.com/glebarez/go-sqlite
// connection.
func driverConn(dc any) (db uintptr, ok bool) {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	e := v.Elem()
	if e.Type().PkgPath() != "github.com/glebarez/go-sqlite" || e.Type().Name() != "conn" {
		return 0, false
	}
	f := e.FieldByName("db")
	if !f.IsValid() || f.Kind() != reflect.Uintptr {
		return 0, false
	}
	return uintptr(f.Uint()), f.Uint() != 0
}

// attach points p at the driver connection dc, forgetting the statements of
// another connection. It reports whether p can run statements.
func (p *preparedStmts) attach(dc any) bool {
	db, ok := driverConn(dc)
	if !ok {
		p.close()
		return false
	}
	if db != p.db {
		p.close() // a connection the pool replaced: its statements go
		p.db, p.tls = db, libc.NewTLS()
	}
	return true
}

// close finalizes every statement.
func (p *preparedStmts) close() {
	for _, st := range p.stmts {
		sqlite3.Xsqlite3_finalize(p.tls, st)
	}
	if p.tls != nil {
		if p.block != 0 {
			libc.Xfree(p.tls, p.block)
		}
		p.tls.Close()
	}
	p.stmts, p.db, p.tls = nil, 0, nil
	p.block, p.blockCap = 0, 0
}

// exec runs query with args, preparing it the first time.
func (p *preparedStmts) exec(query string, args ...any) error {
	st, err := p.prepare(query)
	if err != nil {
		return err
	}
	err = p.bind(st, args)
	if err == nil {
		rc := sqlite3.Xsqlite3_step(p.tls, st)
		for rc == sqlite3.SQLITE_ROW {
			rc = sqlite3.Xsqlite3_step(p.tls, st)
		}
		if rc != sqlite3.SQLITE_DONE {
			err = p.errorOf(rc)
		}
	}
	sqlite3.Xsqlite3_reset(p.tls, st)
	sqlite3.Xsqlite3_clear_bindings(p.tls, st)
	if err != nil {
		return fmt.Errorf("%.40s…: %w", query, err)
	}
	return nil
}

func (p *preparedStmts) prepare(query string) (uintptr, error) {
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	// The library only gets memory of its own allocator (outside the Go
	// heap): the query's text, and the place it writes the statement to.
	zSQL, err := libc.CString(query)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(p.tls, zSQL)
	out := libc.Xmalloc(p.tls, libc.Tsize_t(unsafe.Sizeof(uintptr(0))))
	if out == 0 {
		return 0, fmt.Errorf("prepare %.40s…: out of memory", query)
	}
	defer libc.Xfree(p.tls, out)
	rc := sqlite3.Xsqlite3_prepare_v3(p.tls, p.db, zSQL, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, out, 0)
	st := *(*uintptr)(unsafe.Add(nil, out)) // out is not Go memory
	if rc != sqlite3.SQLITE_OK {
		return 0, fmt.Errorf("prepare %.40s…: %w", query, p.errorOf(rc))
	}
	if st == 0 {
		return 0, fmt.Errorf("prepare %.40s…: no statement", query)
	}
	if p.stmts == nil {
		p.stmts = map[string]uintptr{}
	}
	p.stmts[query] = st
	return st, nil
}

// bind binds args in order, as the driver would store them.
func (p *preparedStmts) bind(st uintptr, args []any) error {
	if n := int(sqlite3.Xsqlite3_bind_parameter_count(p.tls, st)); n != len(args) {
		return fmt.Errorf("%d parameters for %d placeholders", len(args), n)
	}
	p.text, p.texts = p.text[:0], p.texts[:0]
	for i, a := range args {
		at := int32(i + 1)
		rc := int32(sqlite3.SQLITE_OK)
		switch v := a.(type) {
		case nil:
			rc = sqlite3.Xsqlite3_bind_null(p.tls, st, at)
		case int:
			rc = sqlite3.Xsqlite3_bind_int64(p.tls, st, at, int64(v))
		case int64:
			rc = sqlite3.Xsqlite3_bind_int64(p.tls, st, at, v)
		case bool:
			b := int64(0)
			if v {
				b = 1
			}
			rc = sqlite3.Xsqlite3_bind_int64(p.tls, st, at, b)
		case float64:
			rc = sqlite3.Xsqlite3_bind_double(p.tls, st, at, v)
		case string:
			p.addText(at, v, nil)
		case *int64:
			if v == nil {
				rc = sqlite3.Xsqlite3_bind_null(p.tls, st, at)
			} else {
				rc = sqlite3.Xsqlite3_bind_int64(p.tls, st, at, *v)
			}
		case *string:
			if v == nil {
				rc = sqlite3.Xsqlite3_bind_null(p.tls, st, at)
			} else {
				p.addText(at, *v, nil)
			}
		case time.Time:
			p.addText(at, "", &v)
		case *time.Time:
			if v == nil {
				rc = sqlite3.Xsqlite3_bind_null(p.tls, st, at)
			} else {
				p.addText(at, "", v)
			}
		default:
			return fmt.Errorf("parameter %d: unsupported %T", at, a)
		}
		if rc != sqlite3.SQLITE_OK {
			return p.errorOf(rc)
		}
	}
	return p.bindTexts(st)
}

// addText gathers a text parameter: s, or t as the driver writes a time.
func (p *preparedStmts) addText(at int32, s string, t *time.Time) {
	off := len(p.text)
	if t != nil {
		p.text = t.AppendFormat(p.text, sqliteTime)
	} else {
		p.text = append(p.text, s...)
	}
	p.texts = append(p.texts, boundText{at: at, off: off, len: len(p.text) - off})
}

// bindTexts copies the gathered text into the library's memory and binds
// each parameter to its part. The block is never a null pointer, which
// would bind NULL.
func (p *preparedStmts) bindTexts(st uintptr) error {
	if len(p.texts) == 0 {
		return nil
	}
	if p.reading > 0 {
		return p.bindCopies(st)
	}
	if need := len(p.text) + 1; need > p.blockCap {
		if p.block != 0 {
			libc.Xfree(p.tls, p.block)
		}
		c := max(need, 2*p.blockCap, 4096)
		if p.block = libc.Xmalloc(p.tls, libc.Tsize_t(c)); p.block == 0 {
			p.blockCap = 0
			return &sqliteError{code: sqlite3.SQLITE_NOMEM, msg: "out of memory"}
		}
		p.blockCap = c
	}
	copy(unsafe.Slice((*byte)(unsafe.Add(nil, p.block)), p.blockCap), p.text) // not Go memory
	for _, t := range p.texts {
		rc := sqlite3.Xsqlite3_bind_text(p.tls, st, t.at, p.block+uintptr(t.off), int32(t.len), 0) // 0: SQLITE_STATIC
		if rc != sqlite3.SQLITE_OK {
			return p.errorOf(rc)
		}
	}
	return nil
}

// bindCopies binds each gathered text from a copy of its own, which
// SQLite copies again (SQLITE_TRANSIENT), leaving block alone.
func (p *preparedStmts) bindCopies(st uintptr) error {
	for _, t := range p.texts {
		z, err := libc.CString(string(p.text[t.off : t.off+t.len]))
		if err != nil {
			return &sqliteError{code: sqlite3.SQLITE_NOMEM, msg: "out of memory"}
		}
		rc := sqlite3.Xsqlite3_bind_text(p.tls, st, t.at, z, int32(t.len), sqlite3.SQLITE_TRANSIENT)
		libc.Xfree(p.tls, z)
		if rc != sqlite3.SQLITE_OK {
			return p.errorOf(rc)
		}
	}
	return nil
}

// sqliteError is an error SQLite reported with its result code.
type sqliteError struct {
	code int32
	msg  string
}

func (e *sqliteError) Error() string { return e.msg + " (" + strconv.Itoa(int(e.code)) + ")" }

var errNotAttached = errors.New("no prepared statements on this connection")

func (p *preparedStmts) errorOf(rc int32) error {
	return &sqliteError{code: rc, msg: libc.GoString(sqlite3.Xsqlite3_errmsg(p.tls, p.db))}
}

// rowScanner reads a result row: *sql.Rows, or a prepared statement's row.
type rowScanner interface{ Scan(dest ...any) error }

// query runs query with args, preparing it the first time, and calls row
// for every row of the result.
func (p *preparedStmts) query(query string, args []any, row func(rowScanner) error) error {
	st, err := p.prepare(query)
	if err != nil {
		return err
	}
	err = p.bind(st, args)
	p.reading++
	for err == nil {
		rc := sqlite3.Xsqlite3_step(p.tls, st)
		if rc == sqlite3.SQLITE_DONE {
			break
		}
		if rc != sqlite3.SQLITE_ROW {
			err = p.errorOf(rc)
			break
		}
		err = row(stmtRow{p, st})
	}
	p.reading--
	sqlite3.Xsqlite3_reset(p.tls, st)
	sqlite3.Xsqlite3_clear_bindings(p.tls, st)
	if err != nil {
		return fmt.Errorf("%.40s…: %w", query, err)
	}
	return nil
}

// stmtRow is the current row of a prepared statement. Scan converts the
// column types the writer's look-ups read as the driver would: integers,
// floats, text, and times stored as text.
type stmtRow struct {
	p  *preparedStmts
	st uintptr
}

func (r stmtRow) Scan(dest ...any) error {
	if n := int(sqlite3.Xsqlite3_column_count(r.p.tls, r.st)); n != len(dest) {
		return fmt.Errorf("%d columns for %d destinations", n, len(dest))
	}
	for i, d := range dest {
		c := int32(i)
		if sqlite3.Xsqlite3_column_type(r.p.tls, r.st, c) == sqlite3.SQLITE_NULL {
			switch d := d.(type) {
			case **int64:
				*d = nil
			case **string:
				*d = nil
			case **time.Time:
				*d = nil
			default:
				return fmt.Errorf("column %d: NULL into %T", i, d)
			}
			continue
		}
		switch d := d.(type) {
		case *int64:
			*d = r.int(c)
		case *int:
			*d = int(r.int(c))
		case *float64:
			*d = sqlite3.Xsqlite3_column_double(r.p.tls, r.st, c)
		case *string:
			*d = r.text(c)
		case *time.Time:
			t, err := r.time(c)
			if err != nil {
				return err
			}
			*d = t
		case **int64:
			v := r.int(c)
			*d = &v
		case **string:
			v := r.text(c)
			*d = &v
		case **time.Time:
			t, err := r.time(c)
			if err != nil {
				return err
			}
			*d = &t
		default:
			return fmt.Errorf("column %d: unsupported %T", i, d)
		}
	}
	return nil
}

func (r stmtRow) int(c int32) int64 { return sqlite3.Xsqlite3_column_int64(r.p.tls, r.st, c) }

func (r stmtRow) text(c int32) string {
	z := sqlite3.Xsqlite3_column_text(r.p.tls, r.st, c)
	n := sqlite3.Xsqlite3_column_bytes(r.p.tls, r.st, c)
	if z == 0 || n == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Add(nil, z)), n)) // a copy: z is the library's
}

// timeLayouts are those the driver reads times with, its own first.
var timeLayouts = []string{sqliteTime, "2006-01-02T15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"}

func (r stmtRow) time(c int32) (time.Time, error) {
	s := strings.TrimSuffix(r.text(c), "Z")
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("column %d: %q is not a time", c, s)
}
