package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// Seeding is for benchmarks, demos and tests, never for the request path.
// It writes with multi-row INSERTs in large transactions on one connection
// of the writer pool (see bulkLoad), and leaves the aggregates (vote and
// bug counts, tester activity, duplicates, the daily timeline) exactly as
// the API would have: SeedFeedback recounts them, Seed keeps them as it
// writes (a test checks them against Recount). Run it while no server
// writes to the same database: Seed picks the ids of the rows it adds
// itself.

// seedChunk is how many rows one seeding transaction holds when the
// tables were not empty, and how often progress is reported.
const seedChunk = 50_000

// SeedFeedback bulk-inserts n feedback items by one tester into a build,
// in large transactions, then recounts the aggregates. shape may adjust
// each item before it is stored.
func (s *Store) SeedFeedback(ctx context.Context, buildID, testerID int64, n int, shape func(i int, fb *models.Feedback)) error {
	now := s.now()
	days := map[dayKey]int{}
	err := s.bulkLoad(ctx, []string{"feedback"}, func(l *loader) error {
		w := l.table("feedback", feedbackCols[1:]...) // ids from the database
		for i := 0; i < n; i++ {
			fb := models.Feedback{BuildID: buildID, TesterID: testerID, Kind: "suggestion", Title: "Seeded item " + strconv.Itoa(i),
				Status: "new", CreatedAt: now.Add(time.Duration(i-n) * time.Second), UpdatedAt: now}
			if shape != nil {
				shape(i, &fb)
			}
			days[dayKey{fb.BuildID, fb.CreatedAt.UTC().Format(time.DateOnly)}]++
			if err := w.add(feedbackValues(&fb)[1:]...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed feedback: %w", err)
	}
	if err := s.addFeedbackDays(ctx, days); err != nil {
		return err
	}
	return s.Recount(ctx)
}

// SeedSpec describes a data set: one product with several builds. The
// counts are those of the newest build (the one benchmarks target); each
// older build gets a fiftieth of its feedback and votes.
type SeedSpec struct {
	Feedback, Votes, Changes, Testers int
	// Builds is how many builds the product has, the newest in stage qc
	// (default 3: one superseded, one in production, one in qc).
	Builds int
	// Product names the product (default "Starfall"); its slug is made unique.
	Product string
	// PasswordHash is every seeded user's password (see models.HashPassword).
	PasswordHash string
	// Seed makes the data set reproducible (default 1).
	Seed uint64
	// Recount rebuilds every aggregate of the database with Recount at the
	// end. Seed keeps the aggregates of what it writes as it writes them,
	// so this is a cross-check: at a million items it adds about 40 % to
	// the load.
	Recount bool
	// Progress, when set, hears about each committed chunk.
	Progress func(table string, done, total int)
}

// SeedResult tells what Seed made.
type SeedResult struct {
	ProductID int64   `json:"product_id"`
	Slug      string  `json:"slug"`
	BuildID   int64   `json:"build_id"`
	BuildIDs  []int64 `json:"build_ids"`
	// Staff are the admin, release manager and product owner emails.
	Staff []string `json:"staff"`
	// Testers is the email pattern of the testers ({n} from 1).
	Testers string           `json:"testers"`
	Rows    map[string]int64 `json:"rows"`
	Total   int64            `json:"total_rows"`
	Insert  time.Duration    `json:"insert_ns"`
	Recount time.Duration    `json:"recount_ns"`
}

// Seed loads a realistic data set: a product, its builds and changes,
// staff, testers with grants, votes skewed towards a few changes and a few
// busy testers (some changes controversial, a few broken), and feedback of
// every kind, severity and status with varied text, spread over the
// testing window and filed mostly by the busiest testers. The aggregates
// (vote and open-bug counts, build totals, tester activity, duplicates,
// the daily timeline) are those Recount would compute.
func (s *Store) Seed(ctx context.Context, spec SeedSpec) (*SeedResult, error) {
	if spec.Builds <= 0 {
		spec.Builds = 3
	}
	if spec.Product == "" {
		spec.Product = "Starfall"
	}
	if spec.Seed == 0 {
		spec.Seed = 1
	}
	if spec.PasswordHash == "" || spec.Changes < 1 || spec.Testers < 1 || spec.Feedback < 0 || spec.Votes < 0 {
		return nil, errors.New("seed needs a password hash, at least one change and one tester")
	}
	g := &seedGen{rng: rand.New(rand.NewPCG(spec.Seed, 0x9e3779b97f4a7c15)), spec: spec, now: s.now().Truncate(time.Second),
		days: map[dayKey]int{}}
	start := time.Now()
	res := &SeedResult{Rows: map[string]int64{}}
	if err := s.tx(ctx, func(tx *gorm.DB) error { return g.catalog(tx, res) }); err != nil {
		return nil, fmt.Errorf("seed catalog: %w", err)
	}
	w := s.w.WithContext(ctx)
	if err := errors.Join(w.Raw("SELECT COALESCE(MAX(id), 0) FROM users").Scan(&g.userBase).Error,
		w.Raw("SELECT COALESCE(MAX(id), 0) FROM feedback").Scan(&g.nextFeedback).Error); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	err := s.bulkLoad(ctx, []string{"feedback", "votes"}, func(l *loader) error {
		l.progress = spec.Progress
		return g.load(l, res)
	})
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := s.addFeedbackDays(ctx, g.days); err != nil {
		return nil, err
	}
	res.Rows["feedback_days"] = int64(len(g.days))
	if s.dialect == Postgres {
		for _, t := range []string{"users", "feedback"} {
			if err := s.w.WithContext(ctx).Exec("SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), (SELECT MAX(id) FROM " + t + "))").Error; err != nil {
				return nil, fmt.Errorf("seed: advance %s ids: %w", t, err)
			}
		}
	}
	res.Insert = time.Since(start)
	if spec.Recount {
		if err := s.Recount(ctx); err != nil {
			return nil, err
		}
		res.Recount = time.Since(start) - res.Insert
	}
	for _, n := range res.Rows {
		res.Total += n
	}
	return res, nil
}

// dayKey is one build's day (UTC) in feedback_days.
type dayKey struct {
	build int64
	day   string
}

// addFeedbackDays adds seeded items to the daily timeline.
func (s *Store) addFeedbackDays(ctx context.Context, days map[dayKey]int) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		for k, n := range days {
			err := tx.Exec(`INSERT INTO feedback_days (build_id, day, feedback) VALUES (?, ?, ?)
				ON CONFLICT (build_id, day) DO UPDATE SET feedback = feedback_days.feedback + excluded.feedback`, k.build, k.day, n).Error
			if err != nil {
				return fmt.Errorf("seed timeline: %w", err)
			}
		}
		return nil
	})
}

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

// seededFeedbackCols are the columns Seed writes: its items have no
// comments, attachments or staff replies, so those columns keep their
// defaults, and the SQL of a million items is shorter to parse.
var seededFeedbackCols = []string{"id", "build_id", "change_id", "tester_id", "kind", "severity", "title", "body",
	"platform_os", "platform_device", "platform_client_version", "status", "duplicate_of", "idempotency_key",
	"duplicates", "created_at", "updated_at"}

func feedbackValues(fb *models.Feedback) []any {
	return []any{fb.ID, fb.BuildID, fb.ChangeID, fb.TesterID, fb.Kind, fb.Severity, fb.Title, fb.Body,
		fb.Platform.OS, fb.Platform.Device, fb.Platform.ClientVersion, fb.Status, fb.DuplicateOf, fb.IdempotencyKey,
		fb.CommentCount, fb.AttachmentCount, fb.LastStaffReplyAt, fb.Duplicates, fb.CreatedAt, fb.UpdatedAt}
}

// seedGen makes the data set and keeps its aggregates.
type seedGen struct {
	rng          *rand.Rand
	spec         SeedSpec
	now          time.Time
	slug         string
	builds       []seedBuild
	staffIDs     []int64
	userBase     int64 // testers get ids userBase+1 … userBase+Testers
	nextFeedback int64
	days         map[dayKey]int
	buf          []byte
}

// seedBuild is one build being seeded: its changes' traits, and the
// aggregates of what was written for it.
type seedBuild struct {
	models.Build
	changes  []models.Change // with their vote and open-bug counts
	health   []byte          // per change: 'f' fine, 'c' controversial, 'b' broken
	testers  int             // testers 1…testers are granted
	feedback int
	votes    int
	start    time.Time // testing window
	window   time.Duration
	// Per granted tester (index tester-1): activity, as on grants.
	fbCount, voteCount []int
	lastActive         []time.Time
}

// active notes a tester's feedback or vote at.
func (b *seedBuild) active(t int, at time.Time) {
	if at.After(b.lastActive[t]) {
		b.lastActive[t] = at
	}
}

// catalog writes the product, builds, changes and staff.
func (g *seedGen) catalog(tx *gorm.DB, res *SeedResult) error {
	base := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(g.spec.Product)), "-")
	if base == "" {
		base = "product"
	}
	g.slug = base
	for n := 2; ; n++ {
		var taken int64
		if err := tx.Model(&models.Product{}).Where("slug = ?", g.slug).Count(&taken).Error; err != nil {
			return err
		}
		if taken == 0 {
			break
		}
		g.slug = base + "-" + strconv.Itoa(n)
	}
	p := models.Product{Name: g.spec.Product, Slug: g.slug, CreatedAt: g.now.Add(-60 * 24 * time.Hour)}
	if err := tx.Create(&p).Error; err != nil {
		return err
	}
	for _, role := range []models.Role{models.RoleAdmin, models.RoleReleaseManager, models.RoleProductOwner} {
		u := models.User{Email: string(role) + "@" + g.slug + ".seed.test", Name: seedStaffNames[role], Role: role,
			PasswordHash: g.spec.PasswordHash, CreatedAt: p.CreatedAt}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		g.staffIDs = append(g.staffIDs, u.ID)
		res.Staff = append(res.Staff, u.Email)
	}
	rm := g.staffIDs[1]
	n := g.spec.Builds
	var prev *int64
	for i := 0; i < n; i++ {
		main := i == n-1
		age := time.Duration(n-1-i) * 16 * 24 * time.Hour
		b := seedBuild{start: g.now.Add(-age - 14*24*time.Hour), window: 14 * 24 * time.Hour}
		b.Build = models.Build{ProductID: p.ID, Version: fmt.Sprintf("0.%d.0", 7+i), Stage: models.StageSuperseded,
			Notes: "Playtest build " + strconv.Itoa(i+1) + ".", Policy: models.DefaultPolicy(), CreatedAt: b.start,
			Access: models.Access{URL: "https://dl.example.com/" + g.slug + "/" + strconv.Itoa(i+1) + ".zip", Server: "qc.example.com:7777",
				Key: "QC-" + strconv.Itoa(1000+i), Instructions: "Install, then join the QC server with the key."}}
		b.feedback, b.votes, b.testers = g.spec.Feedback/50, g.spec.Votes/50, max(1, g.spec.Testers*3/5)
		nch := max(1, g.spec.Changes/4)
		if main {
			b.Version, b.Stage = "1.0.0", models.StageQC
			b.feedback, b.votes, b.testers, nch = g.spec.Feedback, g.spec.Votes, g.spec.Testers, g.spec.Changes
		} else {
			promoted := b.start.Add(b.window)
			b.PromotedAt, b.ReplacedBuildID = &promoted, prev
			if i == n-2 {
				b.Stage = models.StageProduction
			}
		}
		if err := tx.Create(&b.Build).Error; err != nil {
			return err
		}
		id := b.ID
		prev = &id
		if b.Stage == models.StageProduction {
			if err := tx.Model(&p).Update("production_build_id", b.ID).Error; err != nil {
				return err
			}
		}
		changes := make([]models.Change, nch)
		b.health = make([]byte, nch)
		for j := range changes {
			area := seedAreas[g.rng.IntN(len(seedAreas))]
			changes[j] = models.Change{BuildID: b.ID, Key: fmt.Sprintf("%s-%d", strings.ToUpper(g.slug[:min(3, len(g.slug))]), 100*(i+1)+j+1),
				Title: seedChangeVerbs[g.rng.IntN(len(seedChangeVerbs))] + " " + area + " " + seedChangeObjects[g.rng.IntN(len(seedChangeObjects))],
				Area:  area, Description: "Changed for this build; tell us whether to keep it.", Status: models.ChangePending, CreatedAt: b.start}
			switch x := g.rng.Float64(); {
			case x < 0.05:
				b.health[j] = 'b'
			case x < 0.15:
				b.health[j] = 'c'
			default:
				b.health[j] = 'f'
			}
			if !main {
				decided := b.start.Add(b.window)
				changes[j].Status, changes[j].DecidedBy, changes[j].DecidedAt = models.ChangeApproved, &rm, &decided
				if b.health[j] != 'f' {
					changes[j].Status, changes[j].Note = models.ChangeReverted, "Reverted after the playtest."
				}
			}
		}
		if err := tx.CreateInBatches(changes, 100).Error; err != nil {
			return err
		}
		b.changes = changes
		g.builds = append(g.builds, b)
		res.BuildIDs = append(res.BuildIDs, b.ID)
		res.Rows["changes"] += int64(nch)
	}
	res.ProductID, res.Slug, res.BuildID = p.ID, g.slug, g.builds[n-1].ID
	res.Testers = "tester{n}@" + g.slug + ".seed.test"
	res.Rows["products"], res.Rows["builds"], res.Rows["users"] = 1, int64(n), 3
	return g.auditSeed(tx, p.ID)
}

// auditSeed records the seeding in the audit log.
func (g *seedGen) auditSeed(tx *gorm.DB, productID int64) error {
	return tx.Create(&models.AuditEvent{At: g.now, ActorID: &g.staffIDs[0], Action: "seed.loaded", SubjectType: "product", SubjectID: &productID,
		Detail: models.JSONText(fmt.Sprintf(`{"feedback":%d,"votes":%d,"changes":%d,"testers":%d}`,
			g.spec.Feedback, g.spec.Votes, g.spec.Changes, g.spec.Testers))}).Error
}

// load writes testers, votes, feedback, grants and the aggregates.
func (g *seedGen) load(l *loader, res *SeedResult) error {
	users := l.table("users", "id", "email", "name", "role", "disabled", "password_hash", "created_at")
	votes := l.table("votes", "change_id", "build_id", "tester_id", "vote", "comment", "created_at", "updated_at")
	fb := l.table("feedback", seededFeedbackCols...)
	grants := l.table("grants", "build_id", "user_id", "created_at", "feedback_count", "vote_count", "last_active_at")
	users.total = g.spec.Testers
	for i := range g.builds {
		b := &g.builds[i]
		b.fbCount, b.voteCount, b.lastActive = make([]int, b.testers), make([]int, b.testers), make([]time.Time, b.testers)
		votes.total += b.votes
		fb.total += b.feedback
		grants.total += b.testers
	}
	for i := 1; i <= g.spec.Testers; i++ {
		name := seedFirst[g.rng.IntN(len(seedFirst))] + " " + seedLast[g.rng.IntN(len(seedLast))]
		if err := users.add(g.userBase+int64(i), "tester"+strconv.Itoa(i)+"@"+g.slug+".seed.test", name, string(models.RoleTester),
			false, g.spec.PasswordHash, g.builds[0].start); err != nil {
			return err
		}
	}
	if err := users.flush(); err != nil { // written before the rows that refer to them
		return err
	}
	for i := range g.builds {
		if err := g.votes(votes, &g.builds[i]); err != nil {
			return err
		}
	}
	for i := range g.builds {
		if err := g.feedback(fb, &g.builds[i]); err != nil {
			return err
		}
	}
	for _, b := range g.builds {
		for t := 0; t < b.testers; t++ {
			var last *time.Time
			if !b.lastActive[t].IsZero() {
				last = &b.lastActive[t]
			}
			if err := grants.add(b.ID, g.userBase+int64(t+1), b.start, b.fbCount[t], b.voteCount[t], last); err != nil {
				return err
			}
		}
	}
	if err := errors.Join(votes.flush(), fb.flush(), grants.flush()); err != nil {
		return err
	}
	for _, b := range g.builds {
		var bugs [4]int
		for _, c := range b.changes {
			err := l.exec(`UPDATE changes SET keep_votes = ?, revert_votes = ?, open_low = ?, open_medium = ?, open_high = ?, open_critical = ?
				WHERE id = ?`, c.KeepVotes, c.RevertVotes, c.OpenLow, c.OpenMedium, c.OpenHigh, c.OpenCritical, c.ID)
			if err != nil {
				return err
			}
		}
		bugs[0], bugs[1], bugs[2], bugs[3] = b.BugsLow, b.BugsMedium, b.BugsHigh, b.BugsCritical
		err := l.exec(`UPDATE builds SET feedback_count = ?, bugs_low = ?, bugs_medium = ?, bugs_high = ?, bugs_critical = ? WHERE id = ?`,
			b.FeedbackCount, bugs[0], bugs[1], bugs[2], bugs[3], b.ID)
		if err != nil {
			return err
		}
	}
	res.Rows["users"] += int64(users.added)
	res.Rows["grants"] = int64(grants.added)
	res.Rows["votes"] = int64(votes.added)
	res.Rows["feedback"] = int64(fb.added)
	return nil
}

// skewed picks from 0…n-1, low indexes far more often (the busy few).
func (g *seedGen) skewed(n int) int {
	u := g.rng.Float64()
	return int(float64(n) * u * u)
}

// votes casts a build's votes: a Zipf-like share per change (the first
// changes draw the crowd), distinct testers per change, busy testers first,
// and a revert share that follows the change's health.
func (g *seedGen) votes(w *tableWriter, b *seedBuild) error {
	nc, nt := len(b.changes), b.testers
	want := min(b.votes, nc*nt)
	weights := make([]float64, nc)
	var sum float64
	for j := range weights {
		weights[j] = 1 / math.Pow(float64(j+1), 0.7)
		sum += weights[j]
	}
	per := make([]int, nc)
	left := want
	for j := range per {
		per[j] = min(nt, int(float64(want)*weights[j]/sum))
		left -= per[j]
	}
	for j := 0; left > 0; j = (j + 1) % nc { // hand out the rounding remainder
		if per[j] < nt {
			per[j]++
			left--
		}
	}
	mark := make([]int32, nt)
	for j := range b.changes {
		c := &b.changes[j]
		revert := map[byte]float64{'f': 0.08, 'c': 0.42, 'b': 0.6}[b.health[j]]
		picked, tries, next := 0, 0, 0
		stamp := int32(j + 1)
		for picked < per[j] {
			t := g.skewed(nt)
			if tries++; tries > 4*per[j] { // nearly everyone voted: take the rest in order
				for mark[next] == stamp {
					next++
				}
				t = next
			}
			if mark[t] == stamp {
				continue
			}
			mark[t] = stamp
			picked++
			v := models.VoteKeep
			if g.rng.Float64() < revert {
				v = models.VoteRevert
				c.RevertVotes++
			} else {
				c.KeepVotes++
			}
			comment := ""
			if g.rng.IntN(10) == 0 {
				comment = seedVoteComments[g.rng.IntN(len(seedVoteComments))]
			}
			at := b.start.Add(time.Duration(g.rng.Int64N(int64(b.window))))
			b.voteCount[t]++
			b.active(t, at)
			if err := w.add(c.ID, b.ID, g.userBase+int64(t+1), v, comment, at, at); err != nil {
				return err
			}
		}
	}
	return nil
}

// seedWindow is how many items wait before being written, so that
// duplicates filed meanwhile can still be counted on their original.
const seedWindow = 1024

// feedback files a build's items, oldest first, and counts them.
func (g *seedGen) feedback(w *tableWriter, b *seedBuild) error {
	ring := make([]models.Feedback, seedWindow)
	write := func(fb *models.Feedback) error {
		return w.add(fb.ID, fb.BuildID, fb.ChangeID, fb.TesterID, fb.Kind, fb.Severity, fb.Title, fb.Body,
			fb.Platform.OS, fb.Platform.Device, fb.Platform.ClientVersion, fb.Status, fb.DuplicateOf, fb.IdempotencyKey,
			fb.Duplicates, fb.CreatedAt, fb.UpdatedAt)
	}
	for i := 0; i < b.feedback; i++ {
		slot := &ring[i%seedWindow]
		if i >= seedWindow {
			if err := write(slot); err != nil {
				return err
			}
		}
		g.nextFeedback++
		// Arrivals grow over the window: more players join each day.
		at := b.start.Add(time.Duration(math.Sqrt((float64(i)+g.rng.Float64())/float64(b.feedback)) * float64(b.window)))
		fb := models.Feedback{ID: g.nextFeedback, BuildID: b.ID, CreatedAt: at, UpdatedAt: at,
			Platform: models.Platform{OS: seedOS[g.rng.IntN(len(seedOS))], Device: seedDevices[g.rng.IntN(len(seedDevices))], ClientVersion: b.Version}}
		switch x := g.rng.IntN(100); {
		case x < 55:
			fb.Kind = models.KindBug
		case x < 80:
			fb.Kind = "suggestion"
		case x < 90:
			fb.Kind = "praise"
		default:
			fb.Kind = "other"
		}
		change := -1
		var health byte = 'f'
		if g.rng.IntN(10) < 7 {
			change = min(len(b.changes)-1, int(float64(len(b.changes))*math.Pow(g.rng.Float64(), 2)))
			fb.ChangeID, health = &b.changes[change].ID, b.health[change]
		}
		sev := -1
		if fb.Kind == models.KindBug {
			s := seedSeverities[g.rng.IntN(len(seedSeverities))]
			fb.Severity, sev = &s, models.SeverityRank(s)-1
		}
		fb.Status = seedStatuses[g.rng.IntN(len(seedStatuses))]
		if sev == 3 && health != 'b' && models.Open(fb.Status) {
			fb.Status = "resolved" // critical bugs of healthy changes get fixed quickly
		}
		if fb.Status == models.StatusDuplicate {
			// The original is a recent item still waiting to be written.
			fb.Status = "new"
			for try := 0; try < 3 && i > 0; try++ {
				orig := &ring[(i-1-g.rng.IntN(min(i, seedWindow-1)))%seedWindow]
				if orig.DuplicateOf == nil {
					id := orig.ID // the slot is reused before this item is written
					fb.Status, fb.DuplicateOf = models.StatusDuplicate, &id
					orig.Duplicates++
					break
				}
			}
		}
		if g.rng.IntN(10) < 4 {
			k := strconv.FormatUint(g.rng.Uint64(), 16)
			fb.IdempotencyKey = &k
		}
		fb.Title, fb.Body = g.text(fb.Kind)
		t := g.skewed(b.testers)
		fb.TesterID = g.userBase + int64(t+1)
		// Aggregates, as Recount counts them.
		g.days[dayKey{b.ID, at.UTC().Format(time.DateOnly)}]++
		b.FeedbackCount++
		b.fbCount[t]++
		b.active(t, at)
		if sev >= 0 {
			bump(sev, &b.BugsLow, &b.BugsMedium, &b.BugsHigh, &b.BugsCritical)
			if change >= 0 && models.Open(fb.Status) {
				c := &b.changes[change]
				bump(sev, &c.OpenLow, &c.OpenMedium, &c.OpenHigh, &c.OpenCritical)
			}
		}
		*slot = fb
	}
	for i := max(0, b.feedback-seedWindow); i < b.feedback; i++ {
		if err := write(&ring[i%seedWindow]); err != nil {
			return err
		}
	}
	return nil
}

// bump adds one to the count of severity rank sev (0 low … 3 critical).
func bump(sev int, counts ...*int) { *counts[sev]++ }

// text writes a title and a body for an item of kind.
func (g *seedGen) text(kind string) (string, string) {
	pick := func(list []string) string { return list[g.rng.IntN(len(list))] }
	var title string
	switch kind {
	case models.KindBug:
		title = pick(seedSymptoms) + " when " + pick(seedActions) + " " + pick(seedContexts)
	case "suggestion":
		title = pick(seedWishes) + " " + pick(seedFeatures)
	case "praise":
		title = pick(seedPraise) + " " + pick(seedFeatures)
	default:
		title = "Question about " + pick(seedFeatures)
	}
	b := g.buf[:0]
	if kind == models.KindBug {
		b = append(b, "Steps: "...)
		b = append(b, pick(seedActions)...)
		b = append(b, ' ')
		b = append(b, pick(seedContexts)...)
		b = append(b, ". "...)
	}
	for n := 1 + g.rng.IntN(5); n > 0; n-- {
		b = append(b, pick(seedSentences)...)
		b = append(b, ' ')
	}
	if g.rng.IntN(8) == 0 {
		b = append(b, "Error code E-"...)
		b = strconv.AppendInt(b, int64(1000+g.rng.IntN(9000)), 10)
		b = append(b, '.')
	}
	g.buf = b
	return title, strings.TrimSpace(string(b))
}

var (
	seedStaffNames = map[models.Role]string{models.RoleAdmin: "Ada Admin", models.RoleReleaseManager: "Rhea Release",
		models.RoleProductOwner: "Otto Owner"}
	seedSeverities = []string{"low", "low", "low", "medium", "medium", "medium", "high", "high", "critical"}
	seedStatuses   = []string{"new", "new", "new", "new", "new", "new", "new", "new", "new", "acknowledged", "acknowledged", "acknowledged",
		"in_progress", "in_progress", "resolved", "resolved", "resolved", "wont_fix", "duplicate", "duplicate"}
	seedAreas         = []string{"combat", "inventory", "crafting", "netcode", "audio", "UI", "matchmaking", "economy", "quests", "rendering", "controls", "save system"}
	seedChangeVerbs   = []string{"Rework", "Rebalance", "Speed up", "Simplify", "Replace", "Tune", "Redesign", "Remove"}
	seedChangeObjects = []string{"cooldowns", "loot tables", "tutorial", "camera", "HUD layout", "spawn rules", "difficulty curve", "menus"}
	seedSymptoms      = []string{"Crash", "Freeze", "Stutter", "Frame drops", "Audio desync", "Texture flicker", "Rubber-banding", "Softlock",
		"Missing subtitles", "Wrong tooltip", "Invisible wall", "Clipping through floor", "Save corruption", "Input lag", "Black screen", "Disconnect"}
	seedActions = []string{"opening the inventory", "switching weapons", "entering the harbor district", "loading a save", "joining a squad",
		"crafting a potion", "using the grappling hook", "skipping a cutscene", "alt-tabbing", "changing resolution", "trading with a vendor",
		"respawning", "fast travelling", "sprinting uphill", "opening the map", "reviving a teammate"}
	seedContexts = []string{"after the level 3 cutscene", "on the ice level", "after the boss fight", "in co-op", "with a controller",
		"at 144 Hz", "during the night cycle", "in the desert biome", "with the HD texture pack", "on a fresh profile", "in split screen"}
	seedWishes   = []string{"Please add", "Let us customise", "Consider reworking", "Make it easier to find", "Add an option for"}
	seedPraise   = []string{"Love the new", "Huge improvement to the", "Really enjoying the", "Great job on the"}
	seedFeatures = []string{"photo mode", "crafting menu", "skill tree", "fishing minigame", "map markers", "controller layout",
		"dialogue choices", "weather effects", "soundtrack", "mount system", "base building", "trading post"}
	seedSentences = []string{"Happens 3 of 5 tries on this build.", "Expected: it just works like in the last build.",
		"The game freezes for about two seconds first.", "It started after the last patch.", "Verified on two machines.",
		"Could not reproduce offline.", "My squad saw it too.", "Frame time spikes to 80 ms right before.",
		"The log shows a null reference in the UI layer.", "Restarting the client fixes it for a while.",
		"Feels much better than before, keep it.", "The tooltip still shows the old values.",
		"It is hard to read on a small screen.", "Please keep this for release."}
	seedVoteComments = []string{"Feels better.", "Too punishing now.", "Keep it!", "Breaks my build.", "Not sure yet.", "Revert please."}
	seedOS           = []string{"Windows 11", "Windows 10", "macOS 15", "SteamOS 3.6", "Ubuntu 24.04", "PS5", "Xbox Series X"}
	seedDevices      = []string{"RTX 4070 desktop", "RTX 3060 laptop", "Steam Deck", "RX 7800 XT", "MacBook Pro M3", "Arc A770", "console"}
	seedFirst        = []string{"Alex", "Sam", "Robin", "Kim", "Noor", "Mika", "Jules", "Ari", "Lea", "Tomas", "Yuki", "Ines", "Omar", "Zoe", "Ivan", "Priya"}
	seedLast         = []string{"Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez", "Moreau", "Novak", "Okafor"}
)
