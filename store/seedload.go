package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// loader writes the rows a generator adds. The generator runs on the
// caller's goroutine and renders multi-row INSERTs; another goroutine
// executes them in order on one writer connection, so with two cores rows
// are made while earlier ones are written.
type loader struct {
	// ctx is what the driver sees: without cancellation, since the SQLite
	// driver starts a goroutine per statement to watch a cancellable one;
	// stop is checked between statements instead.
	ctx     context.Context
	stop    context.Context
	conn    *sql.Conn
	tx      *sql.Tx
	dialect Dialect
	q       *stmtQueue
	writers []*tableWriter
	// staged maps a table to the temporary table its rows go through (see
	// stage); temps lists those to drop at the end.
	staged map[string]string
	temps  []string
	// rebuild holds the indexes and triggers dropped for a load into empty
	// tables, to create again at its end (see dropForLoad). While it is
	// set, the load is one transaction.
	rebuild  []schemaObject
	rows     int // rows since the last commit or progress report (writing goroutine)
	progress func(table string, done, total int)
	// side builds the full-text index of a table loaded while empty
	// (seedfts.go); its transaction begins deferred then.
	side *ftsSide
	// discard is set when the load wrote an index's tables itself: the
	// connection's FTS5 may hold what it read of them before, so the
	// connection is closed after the load, not put back in the pool.
	discard bool
	// p runs the table writers' INSERTs on SQLite, prepared once with their
	// values bound (see seedRowsSQLite); unset when the driver's connection
	// handle cannot be reached, and the values are then literals.
	p      preparedStmts
	direct bool
}

// seedStmt is one statement for a writing goroutine, with ? placeholders
// unless a table writer built it.
type seedStmt struct {
	w    *tableWriter // the table it adds rows to, if any
	sql  string
	args []any
	rows int
}

// stmtQueue feeds statements to a goroutine that runs them in order.
type stmtQueue struct {
	ch     chan seedStmt
	failed chan struct{} // closed when the goroutine stops on an error
	done   chan struct{} // closed when it returns
	err    error         // why it stopped; read after failed or done is closed
}

// errLoadStopped tells a generator that a writing goroutine gave up; the
// loader reports its reason instead.
var errLoadStopped = errors.New("seed: the writer stopped")

// startQueue starts a goroutine that runs each queued statement with run.
func startQueue(run func(seedStmt) error) *stmtQueue {
	q := &stmtQueue{ch: make(chan seedStmt, 16), failed: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for st := range q.ch {
			if err := run(st); err != nil {
				q.err = err
				close(q.failed)
				return
			}
		}
	}()
	return q
}

// send queues a statement.
func (q *stmtQueue) send(st seedStmt) error {
	select {
	case q.ch <- st:
		return nil
	case <-q.failed:
		return errLoadStopped
	}
}

// end tells the goroutine that nothing more comes.
func (q *stmtQueue) end() { close(q.ch) }

// wait waits for the queued statements and tells why they stopped, if
// they did.
func (q *stmtQueue) wait() error {
	<-q.done
	return q.err
}

// schemaObject is an index or a trigger as sqlite_master holds it.
type schemaObject struct{ kind, name, table, sql string }

// seedFTS names the full-text table that triggers keep for a table
// (migration 6).
var seedFTS = map[string]string{"feedback": "feedback_fts"}

// seedFTSContent names the external content of those full-text tables
// (migration 12: a view of the table with its tags).
var seedFTSContent = map[string]string{"feedback_fts": "feedback_fts_content"}

// bulkLoad runs gen, which adds rows with the loader's table writers, and
// writes them on one writer connection. big names the tables that receive
// most rows.
//
// On SQLite, when those are all empty, the load is one transaction: it
// drops their secondary indexes and full-text triggers, writes the rows,
// creates the indexes again (each with one sort) and fills the full-text
// index at once (see finish), then commits: a failure or a crash leaves
// the tables as they were. Otherwise it commits every seedChunk rows, and
// a table kept by triggers takes its rows through a temporary table (see
// stage).
func (s *Store) bulkLoad(ctx context.Context, big []string, gen func(*loader) error) (err error) {
	conn, err := s.writerConn(ctx)
	if err != nil {
		return err
	}
	l := &loader{ctx: context.WithoutCancel(ctx), stop: ctx, conn: conn, dialect: s.dialect,
		staged: map[string]string{}}
	if s.dialect == SQLite && !s.unprepared {
		_ = conn.Raw(func(dc any) error {
			l.direct = l.p.attach(dc)
			return nil
		})
	}
	restore := func() error { return nil }
	resume := func() {}
	defer func() {
		if l.tx != nil {
			_ = l.tx.Rollback()
		}
		l.p.close() // before the connection closes
		for _, t := range l.temps {
			if _, derr := conn.ExecContext(l.ctx, "DROP TABLE IF EXISTS "+t); derr != nil && err == nil {
				err = derr
			}
		}
		if l.side != nil {
			err = errors.Join(err, l.side.close(l))
		}
		err = errors.Join(err, restore())
		if l.discard {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		} else {
			err = errors.Join(err, conn.Close())
		}
		resume()
	}()
	fresh := false
	if s.dialect == SQLite {
		if fresh, err = l.empty(big); err != nil {
			return err
		}
		// The rows are consistent by construction, so foreign keys are not
		// checked one by one.
		set := map[string]string{"foreign_keys": "0"}
		if fresh {
			// Temporary files let CREATE INDEX sort in runs held in one
			// block of memory; in memory, it allocates and frees each key.
			set["temp_store"] = "1"
			// CREATE INDEX sorts on every core.
			set["threads"] = strconv.Itoa(runtime.NumCPU())
		} else {
			// Statement journals in memory; the page cache holds the
			// indexes kept row by row.
			set["temp_store"], set["cache_size"] = "2", "-131072"
		}
		undo, err := l.pragmas(set)
		if err != nil {
			return err
		}
		restore = undo
		if fresh {
			resume = s.quiesce()
			if l.rollbackJournal() {
				restore = func() error {
					if _, err := l.conn.ExecContext(l.ctx, "PRAGMA journal_mode = wal"); err != nil {
						return errors.Join(fmt.Errorf("put the database back in WAL mode: %w", err), undo())
					}
					return undo()
				}
			}
			for _, t := range big {
				if l.side != nil {
					break
				}
				if l.side, err = l.startFTSSide(s.DataDir, t); err != nil {
					return fmt.Errorf("prepare the load: %w", err)
				}
			}
		}
	}
	if err := l.begin(); err != nil {
		return err
	}
	switch {
	case fresh:
		if err := l.dropForLoad(big); err != nil {
			return fmt.Errorf("prepare the load: %w", err)
		}
	case s.dialect == SQLite:
		for _, t := range big {
			if err := l.stage(t); err != nil {
				return err
			}
		}
	}
	l.q = startQueue(l.run)
	err = gen(l)
	for _, w := range l.writers {
		if err != nil {
			break
		}
		err = w.flush()
	}
	l.q.end()
	if werr := l.q.wait(); werr != nil {
		return werr // the reason the generator stopped, if it did
	}
	if err != nil {
		return err
	}
	if err := l.finish(); err != nil {
		return err
	}
	if s.dialect == SQLite {
		return l.checkpoint()
	}
	return nil
}

// pragmas sets SQLite settings on the loader's connection and returns
// what puts the previous values back.
func (l *loader) pragmas(set map[string]string) (func() error, error) {
	old := map[string]string{}
	restore := func() error {
		var errs []error
		for name, v := range old {
			_, err := l.conn.ExecContext(l.ctx, "PRAGMA "+name+" = "+v)
			errs = append(errs, err)
		}
		old = nil
		return errors.Join(errs...)
	}
	for name, v := range set {
		var was string
		if err := l.conn.QueryRowContext(l.ctx, "PRAGMA "+name).Scan(&was); err != nil {
			return nil, errors.Join(err, restore())
		}
		old[name] = was
		if _, err := l.conn.ExecContext(l.ctx, "PRAGMA "+name+" = "+v); err != nil {
			return nil, errors.Join(err, restore())
		}
	}
	return restore, nil
}

// rollbackJournal moves the database from write-ahead logging to a
// rollback journal for a load into empty tables, and tells whether it did.
// Pages then go once, straight to the database file: through the log they
// were written twice, to the log and again at the checkpoint. A rollback
// journal keeps nothing for the pages a transaction adds to the end of the
// file, and a failure still leaves the tables as they were. SQLite allows
// the move only while no other connection has the database open (it
// answers "database is locked" at once otherwise): the load then stays in
// WAL mode, slower but the same.
func (l *loader) rollbackJournal() bool {
	var mode string
	err := l.conn.QueryRowContext(l.ctx, "PRAGMA journal_mode = delete").Scan(&mode)
	return err == nil && mode == "delete"
}

// empty tells whether tables are all empty.
func (l *loader) empty(tables []string) (bool, error) {
	for _, t := range tables {
		var some bool
		if err := l.conn.QueryRowContext(l.ctx, "SELECT EXISTS (SELECT 1 FROM "+t+")").Scan(&some); err != nil || some {
			return false, err
		}
	}
	return true, nil
}

// dropForLoad drops the secondary indexes and the triggers of tables, in
// the open transaction, and keeps their definitions for finish. Building
// an index once from sorted rows costs less than keeping it row by row,
// and building a full-text index at once far less than by trigger.
func (l *loader) dropForLoad(tables []string) error {
	q := "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN (?" +
		strings.Repeat(", ?", len(tables)-1) + ") ORDER BY rowid"
	args := make([]any, len(tables))
	for i, t := range tables {
		args[i] = t
	}
	rows, err := l.tx.QueryContext(l.ctx, q, args...)
	if err != nil {
		return err
	}
	var objs []schemaObject
	for rows.Next() {
		var o schemaObject
		if err := rows.Scan(&o.kind, &o.name, &o.table, &o.sql); err != nil {
			rows.Close()
			return err
		}
		objs = append(objs, o)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, o := range objs {
		if _, err := l.tx.ExecContext(l.ctx, "DROP "+strings.ToUpper(o.kind)+" "+o.name); err != nil {
			return err
		}
	}
	l.rebuild = objs
	return nil
}

// finish ends the load: it creates again what dropForLoad dropped, fills
// the full-text indexes whose triggers it dropped, moves the staged rows,
// and commits.
func (l *loader) finish() error {
	var fts []string
	for i, o := range l.rebuild {
		if err := l.stop.Err(); err != nil {
			return err
		}
		if _, err := l.tx.ExecContext(l.ctx, o.sql); err != nil {
			return fmt.Errorf("create %s %s again: %w", o.kind, o.name, err)
		}
		if l.progress != nil {
			l.progress("indexes", i+1, len(l.rebuild))
		}
		if t, ok := seedFTS[o.table]; ok && o.kind == "trigger" && !slices.Contains(fts, t) {
			fts = append(fts, t)
		}
	}
	for _, t := range fts {
		var err error
		if l.side != nil && l.side.table == t && !l.side.missed {
			l.discard = true // the copy writes the index's tables
			err = l.side.copyInto(l)
		} else {
			err = l.rebuildFTS(t)
		}
		if err == nil {
			err = l.raiseSegments(t)
		}
		if err != nil {
			return fmt.Errorf("fill %s: %w", t, err)
		}
	}
	if slices.Contains(fts, seedFTS["feedback"]) {
		// The index now holds every item.
		if err := markIndexed(l.ctx, l.tx); err != nil {
			return err
		}
	}
	return l.commit()
}

// seedFTSHash is the memory FTS5 may fill with pending terms while it
// indexes seeded rows before it writes them out (its default is 1 MiB): a
// million seeded items make one segment instead of hundreds merged again
// and again. Measured: it halves the time.
const seedFTSHash = 256 << 20

// rebuildFTS fills the full-text table t from its content table with a
// larger hash of pending terms. hashsize is a setting FTS5 keeps in its
// config table: the previous value is set again through FTS5, so this
// connection's FTS5 holds it too, and a row that was not there before is
// deleted again, leaving the table as the migration made it.
func (l *loader) rebuildFTS(t string) error {
	var was sql.NullString
	err := l.tx.QueryRowContext(l.ctx, "SELECT v FROM "+t+"_config WHERE k = 'hashsize'").Scan(&was)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	set := "INSERT INTO " + t + " (" + t + ", rank) VALUES ('hashsize', ?)"
	if _, err := l.tx.ExecContext(l.ctx, set, seedFTSHash); err != nil {
		return err
	}
	if _, err := l.tx.ExecContext(l.ctx, "INSERT INTO "+t+" ("+t+") VALUES ('rebuild')"); err != nil {
		return err
	}
	if was.Valid {
		_, err = l.tx.ExecContext(l.ctx, set, was.String)
		return err
	}
	if _, err := l.tx.ExecContext(l.ctx, set, 1<<20); err != nil { // FTS5's default
		return err
	}
	_, err = l.tx.ExecContext(l.ctx, "DELETE FROM "+t+"_config WHERE k = 'hashsize'")
	return err
}

// checkpoint copies the write-ahead log into the database file and syncs
// both: the load ends durable (with synchronous=NORMAL, WAL commits are
// synced at checkpoints) and the log does not keep its size.
func (l *loader) checkpoint() error {
	var busy, logged, copied int
	if err := l.conn.QueryRowContext(l.ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &copied); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// exec queues one statement; query uses ? placeholders.
func (l *loader) exec(query string, args ...any) error {
	return l.q.send(seedStmt{sql: query, args: args})
}

// run executes one statement (writing goroutine), committing every
// seedChunk rows unless the load is one transaction.
func (l *loader) run(st seedStmt) error {
	if err := l.begin(); err != nil {
		return err
	}
	q := st.sql
	if st.w == nil && l.dialect == Postgres {
		q = DollarPlaceholders(q)
	}
	var err error
	if st.w != nil && l.direct {
		err = l.p.exec(q, st.args...)
	} else {
		_, err = l.tx.ExecContext(l.ctx, q, st.args...)
	}
	if err != nil {
		if st.w != nil {
			return fmt.Errorf("insert into %s: %w", st.w.table, err)
		}
		return err
	}
	w := st.w
	if w == nil {
		return nil
	}
	w.done += st.rows
	if w.into != w.table {
		w.staged += st.rows
	}
	if l.rows += st.rows; l.rows < seedChunk {
		return nil
	}
	l.rows = 0
	if l.rebuild == nil {
		if err := l.commit(); err != nil {
			return err
		}
	}
	if l.progress != nil {
		l.progress(w.table, w.done, w.total)
	}
	return nil
}

func (l *loader) begin() error {
	if err := l.stop.Err(); err != nil {
		return err
	}
	if l.tx != nil {
		return nil
	}
	// With a side, the transaction begins deferred: the driver begins
	// every other one IMMEDIATE, which would lock the attached scratch
	// database too. ReadOnly only tells the driver so (a plain BEGIN);
	// SQLite does not make the transaction read-only. A write that changes
	// nothing then takes the main database's write lock at once, as
	// IMMEDIATE does (waiting for it as long), before anything is read.
	var opts *sql.TxOptions
	if l.side != nil {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	tx, err := l.conn.BeginTx(l.ctx, opts)
	if err != nil {
		return err
	}
	if l.side != nil {
		if _, err := tx.ExecContext(l.ctx, "DELETE FROM main.schema_migrations WHERE 0"); err != nil {
			return errors.Join(fmt.Errorf("lock the database: %w", err), tx.Rollback())
		}
	}
	l.tx = tx
	return nil
}

func (l *loader) commit() error {
	if l.tx == nil {
		return nil
	}
	for _, w := range l.writers {
		if err := l.unstage(w); err != nil {
			return err
		}
	}
	if l.dialect == SQLite {
		// The items loaded past the triggers (ftsindex.go).
		if _, _, err := indexWaiting(l.ctx, l.tx, 0); err != nil {
			return err
		}
	}
	err := l.tx.Commit()
	l.tx = nil
	return err
}

// DollarPlaceholders turns ? placeholders into PostgreSQL's $1, $2, …,
// for statements sent through database/sql rather than gorm.
func DollarPlaceholders(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// tableWriter batches rows of one table into multi-row INSERTs. Its
// methods run on the generator's goroutine, except where marked.
type tableWriter struct {
	q       *stmtQueue
	dialect Dialect
	table   string
	// into is where the INSERTs go: the table, or a temporary table whose
	// rows move to it in one statement per transaction (see stage).
	into    string
	cols    []string
	perStmt int    // rows per INSERT
	head    string // INSERT INTO … VALUES
	// bound tells whether the values are bound as parameters (args, with
	// full the INSERT of perStmt rows) or written as SQLite literals into
	// the INSERT being built (text).
	bound   bool
	text    []byte
	args    []any
	full    string
	pending int
	added   int // rows added so far
	total   int // rows to write, for progress
	// side, when set, also gets the columns sideAt of each row (a negative
	// one: the side's derived column -1-i, see ftsSide.tee), in
	// batches of sideRows (seedfts.go).
	side     *ftsSide
	sideAt   []int
	sideRows []any
	// done and staged belong to the writing goroutine.
	done, staged int
}

// seedRowsSQLite is how many rows one INSERT holds on SQLite. The INSERT
// is prepared once and its values bound (preparedStmts): parsing literals
// took 15 % of a million-item seed's CPU, on the goroutine that writes the
// rows, the one the load waits on. Through the driver, which matches each
// parameter to its argument by a linear search and copies each value once
// more, binding cost twice as much as literals; those stay for a driver
// whose connection handle cannot be reached. 100 to 200 rows a statement
// cost least, 25 or 500 about half as much again.
const seedRowsSQLite = 128

// seedParamsPostgres is how many parameters one multi-row INSERT binds on
// PostgreSQL.
const seedParamsPostgres = 8000

// table starts a writer for table with its columns.
func (l *loader) table(name string, cols ...string) *tableWriter {
	w := &tableWriter{q: l.q, dialect: l.dialect, table: name, into: name, cols: cols, perStmt: seedRowsSQLite,
		bound: l.dialect == Postgres || l.direct}
	if t, ok := l.staged[name]; ok {
		w.into = t
	}
	w.head = "INSERT INTO " + w.into + " (" + strings.Join(cols, ", ") + ") VALUES "
	if l.side != nil && l.side.source == name {
		if w.sideAt = l.side.tee(cols); w.sideAt == nil {
			l.side.missed = true // filled from the table at the end instead
		} else {
			w.side = l.side
		}
	}
	if l.dialect == Postgres {
		w.perStmt = max(1, min(500, seedParamsPostgres/len(cols)))
	}
	if w.bound {
		w.full = w.insertSQL(w.perStmt)
	}
	l.writers = append(l.writers, w)
	return w
}

// stage makes a table with triggers (feedback keeps its FTS5 index by
// trigger) take its rows through a temporary table. Each statement in a
// transaction opens a savepoint, and FTS5 writes its pending terms to disk
// at every savepoint: thousands of tiny index segments, merged again and
// again. Moving a whole transaction's rows in one INSERT … SELECT makes one.
func (l *loader) stage(table string) error {
	var triggers int
	err := l.tx.QueryRowContext(l.ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", table).Scan(&triggers)
	if err != nil || triggers == 0 {
		return err
	}
	tmp := "temp.seed_" + table
	if _, err := l.tx.ExecContext(l.ctx, "DROP TABLE IF EXISTS "+tmp+"; CREATE TABLE "+tmp+" AS SELECT * FROM "+table+" WHERE 0"); err != nil {
		return err
	}
	l.temps = append(l.temps, tmp)
	l.staged[table] = tmp
	return nil
}

// unstage moves the staged rows of w to their table (writing goroutine).
func (l *loader) unstage(w *tableWriter) error {
	if w.staged == 0 {
		return nil
	}
	cols := strings.Join(w.cols, ", ")
	if _, err := l.tx.ExecContext(l.ctx, "INSERT INTO "+w.table+" ("+cols+") SELECT "+cols+" FROM "+w.into+" ORDER BY rowid"); err != nil {
		return fmt.Errorf("insert into %s: %w", w.table, err)
	}
	_, err := l.tx.ExecContext(l.ctx, "DELETE FROM "+w.into)
	w.staged = 0
	return err
}

// insertSQL is the INSERT of n rows with parameters.
func (w *tableWriter) insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(w.head)
	p := 0
	for r := 0; r < n; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range w.cols {
			if c > 0 {
				b.WriteByte(',')
			}
			if p++; w.dialect == Postgres {
				b.WriteString("$" + strconv.Itoa(p))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// add queues one row (values in column order).
func (w *tableWriter) add(vals ...any) error {
	if len(vals) != len(w.cols) {
		return fmt.Errorf("seed %s: %d values for %d columns", w.table, len(vals), len(w.cols))
	}
	if w.bound {
		w.args = append(w.args, vals...)
	} else {
		if w.pending == 0 {
			w.text = append(w.text[:0], w.head...)
		} else {
			w.text = append(w.text, ',')
		}
		w.text = append(w.text, '(')
		for i, v := range vals {
			if i > 0 {
				w.text = append(w.text, ',')
			}
			var err error
			if w.text, err = appendSQLiteValue(w.text, v); err != nil {
				return fmt.Errorf("seed %s.%s: %w", w.table, w.cols[i], err)
			}
		}
		w.text = append(w.text, ')')
	}
	w.added++
	if w.side != nil {
		for _, i := range w.sideAt {
			if i >= 0 {
				w.sideRows = append(w.sideRows, vals[i])
				continue
			}
			v, err := w.side.derived[-1-i].value(vals)
			if err != nil {
				return fmt.Errorf("seed %s: %w", w.table, err)
			}
			w.sideRows = append(w.sideRows, v)
		}
		if len(w.sideRows) >= ftsSideBatch*len(w.sideAt) {
			if err := w.sendSide(); err != nil {
				return err
			}
		}
	}
	if w.pending++; w.pending < w.perStmt {
		return nil
	}
	return w.flush()
}

// sendSide sends the rows gathered for the side.
func (w *tableWriter) sendSide() error {
	if len(w.sideRows) == 0 {
		return nil
	}
	err := w.side.q.send(seedStmt{args: w.sideRows})
	w.sideRows = make([]any, 0, ftsSideBatch*len(w.sideAt)) // the side's goroutine owns the old ones
	if err != nil {
		return fmt.Errorf("full-text index of %s: %w", w.table, w.side.q.wait())
	}
	return nil
}

// flush queues what add gathered.
func (w *tableWriter) flush() error {
	if w.side != nil {
		if err := w.sendSide(); err != nil {
			return err
		}
	}
	if w.pending == 0 {
		return nil
	}
	st := seedStmt{w: w, rows: w.pending}
	switch {
	case !w.bound:
		st.sql = string(w.text)
	case w.pending == w.perStmt:
		st.sql, st.args = w.full, w.args
	default:
		st.sql, st.args = w.insertSQL(w.pending), w.args
	}
	if w.bound {
		w.args = make([]any, 0, w.perStmt*len(w.cols)) // the writing goroutine owns the old ones
	}
	w.pending = 0
	return w.q.send(st)
}

// sqliteTime is how the SQLite driver writes a time.Time parameter.
const sqliteTime = "2006-01-02 15:04:05.999999999-07:00"

// appendSQLiteValue appends v as an SQLite literal, stored exactly as the
// driver stores v bound as a parameter.
func appendSQLiteValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "NULL"...), nil
	case int64:
		if x == math.MinInt64 { // as a literal, 9223372036854775808 is a REAL
			return append(b, "(-9223372036854775807-1)"...), nil
		}
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return appendSQLiteValue(b, int64(x))
	case bool:
		if x {
			return append(b, '1'), nil
		}
		return append(b, '0'), nil
	case string:
		return appendSQLiteText(b, x)
	case time.Time:
		b = append(b, '\'')
		return append(x.AppendFormat(b, sqliteTime), '\''), nil
	case *int64:
		if x == nil {
			return appendSQLiteValue(b, nil)
		}
		return appendSQLiteValue(b, *x)
	case *string:
		if x == nil {
			return appendSQLiteValue(b, nil)
		}
		return appendSQLiteValue(b, *x)
	case *time.Time:
		if x == nil {
			return appendSQLiteValue(b, nil)
		}
		return appendSQLiteValue(b, *x)
	}
	return b, fmt.Errorf("cannot write a %T as a literal", v)
}

// appendSQLiteText appends s as a quoted SQLite string.
func appendSQLiteText(b []byte, s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return b, errors.New("text holds a NUL byte")
	}
	b = append(b, '\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '\'')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '\''), nil
}

// feedbackCols are the columns a seeded feedback item sets; the rest keep
// their defaults.
var feedbackCols = []string{"id", "build_id", "change_id", "tester_id", "kind", "severity", "title", "body",
	"platform_os", "platform_device", "platform_client_version", "status", "duplicate_of", "idempotency_key",
	"comment_count", "attachment_count", "last_staff_reply_at", "duplicates", "created_at", "updated_at"}
