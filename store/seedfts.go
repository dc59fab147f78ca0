package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A load into an empty table that a full-text index keeps (bulkLoad) builds
// that index on a second connection, into a scratch database beside the
// data file, while the loader writes the rows; at the end the loader copies
// the index's tables into place, inside its transaction. Built from the
// loaded table at the end instead, the index was a step of its own on one
// core (5 of 19 s for a million items), while the rows' step leaves the
// other core half idle.
//
// The scratch index is contentless (content=''), declared otherwise as the
// real one, so its tables (_data, _idx, _docsize) hold what the real one's
// would. The loader's transaction begins deferred, so that the scratch
// database, attached to its connection before it begins, is not locked
// until the copy reads it. FTS5 keeps what it read of an index with the
// connection, and the copy writes the index's tables behind its back: the
// loader's connection is closed after the load, not used again.

// ftsScratchName is the schema name of the scratch database on the
// loader's connection.
const ftsScratchName = "seedfts"

// ftsSide builds one full-text index beside a load.
type ftsSide struct {
	table  string   // the full-text table, e.g. feedback_fts
	source string   // the table it indexes, e.g. feedback
	cols   []string // the source's columns it reads: its rowid, then each indexed column
	insert string   // the scratch index's INSERT of one row
	path   string   // the scratch database
	db     *sql.DB
	conn   *sql.Conn
	p      preparedStmts // on conn, used by the queue's goroutine only
	q      *stmtQueue    // batches of rows, flattened (rowid, columns…)
	// missed is set when a table writer of source lacks one of cols: the
	// index is then filled from the table at the end, as without a side.
	missed bool
	// derived are the columns of cols that are not the source's but made
	// from its columns (tee).
	derived []derivedColumn
}

// derivedColumn is a column of a full-text index made from columns of the
// indexed table's row: at are their places in a table writer's row.
type derivedColumn struct {
	make func(v ...any) (string, error)
	at   []int
}

func (d derivedColumn) value(row []any) (string, error) {
	v := make([]any, len(d.at))
	for i, at := range d.at {
		v[i] = row[at]
	}
	return d.make(v...)
}

// ftsDerived are the columns of full-text indexes made from their table's
// columns, by the index's column name: migration 12's tags, which its
// view and triggers make with searchTagsSQL.
var ftsDerived = map[string]struct {
	from []string
	make func(v ...any) (string, error)
}{
	"tags": {[]string{"kind", "status", "severity"}, tagsOfRow},
}

// tagsOfRow is searchTags of a seeded row's kind, status and severity.
func tagsOfRow(v ...any) (string, error) {
	kind, ok1 := v[0].(string)
	status, ok2 := v[1].(string)
	severity, ok3 := v[2].(*string)
	if !ok1 || !ok2 || !ok3 {
		return "", fmt.Errorf("tags of %T %T %T: unexpected types", v...)
	}
	return searchTags(kind, status, severity), nil
}

// ftsSideBatch is how many rows a batch sent to the side holds.
const ftsSideBatch = 256

// ftsCommit is the statement that ends the side's queue.
const ftsCommit = "COMMIT"

// startFTSSide starts building the full-text index of source beside the
// load, when source has one declared as migration 6 does; it returns nil
// when it has none or another kind, or when the driver's connection handle
// cannot be reached (see preparedStmts). Called before the loader's
// transaction begins: it attaches the scratch database to the loader's
// connection.
func (l *loader) startFTSSide(dataDir, source string) (*ftsSide, error) {
	table, ok := seedFTS[source]
	if !ok {
		return nil, nil
	}
	var decl string
	if err := l.conn.QueryRowContext(l.ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", table).Scan(&decl); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	content := "content='" + seedFTSContent[table] + "', content_rowid='id'"
	if !strings.Contains(decl, content) {
		return nil, nil // declared otherwise: filled from its table at the end
	}
	f := &ftsSide{table: table, source: source, cols: []string{"id"}, path: filepath.Join(dataDir, "playgate.db.seed-fts")}
	rows, err := l.conn.QueryContext(l.ctx, "SELECT name FROM pragma_table_info(?) ORDER BY cid", table)
	if err != nil {
		return nil, fmt.Errorf("read %s's columns: %w", table, err)
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return nil, err
		}
		f.cols = append(f.cols, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read %s's columns: %w", table, err)
	}
	f.insert = "INSERT INTO " + table + " (rowid, " + strings.Join(f.cols[1:], ", ") + ") VALUES (?" + strings.Repeat(", ?", len(f.cols)-1) + ")"
	if err := f.removeFiles(); err != nil {
		return nil, err
	}
	attached, err := f.open(l, strings.Replace(decl, content, "content=''", 1))
	if err != nil || !attached {
		return nil, errors.Join(err, f.close(nil))
	}
	f.q = startQueue(f.write)
	return f, nil
}

// open creates the scratch database with its index, begins its
// transaction and attaches it to the loader's connection. It tells false
// when the driver's connection handle cannot be reached.
func (f *ftsSide) open(l *loader, decl string) (bool, error) {
	// A scratch file: no journal, no syncs. A crash leaves it behind, and
	// the next load removes it.
	var err error
	if f.db, err = sql.Open("sqlite", "file:"+f.path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)"); err != nil {
		return false, fmt.Errorf("open the scratch index: %w", err)
	}
	f.db.SetMaxOpenConns(1)
	if f.conn, err = f.db.Conn(l.ctx); err != nil {
		return false, fmt.Errorf("open the scratch index: %w", err)
	}
	attached := false
	err = f.conn.Raw(func(dc any) error {
		if attached = f.p.attach(dc); !attached {
			return nil
		}
		// FTS5 writes its pending terms out when they fill this much memory
		// (as rebuildFTS has it), and whenever a statement that may write
		// several rows begins: the side inserts one row a statement, all in
		// one transaction.
		return errors.Join(f.p.exec(decl),
			f.p.exec("INSERT INTO "+f.table+" ("+f.table+", rank) VALUES ('hashsize', ?)", seedFTSHash),
			f.p.exec("BEGIN"))
	})
	if err != nil || !attached {
		return false, err
	}
	if _, err := l.conn.ExecContext(l.ctx, "ATTACH DATABASE ? AS "+ftsScratchName, f.path); err != nil {
		return false, fmt.Errorf("attach the scratch index: %w", err)
	}
	return true, nil
}

// write inserts a batch of rows (flattened) into the scratch index, or
// commits (queue's goroutine).
func (f *ftsSide) write(st seedStmt) error {
	return f.conn.Raw(func(any) error {
		if st.sql == ftsCommit {
			return f.p.exec(ftsCommit)
		}
		n := len(f.cols)
		for i := 0; i+n <= len(st.args); i += n {
			if err := f.p.exec(f.insert, st.args[i:i+n]...); err != nil {
				return fmt.Errorf("index %s %v: %w", f.source, st.args[i], err)
			}
		}
		return nil
	})
}

// tee tells where the side's columns are in the rows of a table writer of
// its source with columns cols, a derived column as -1-i for f.derived[i];
// nil when one is missing.
func (f *ftsSide) tee(cols []string) []int {
	at := make([]int, len(f.cols))
	for i, c := range f.cols {
		if at[i] = slices.Index(cols, c); at[i] >= 0 {
			continue
		}
		d, ok := ftsDerived[c]
		if !ok {
			return nil
		}
		col := derivedColumn{make: d.make}
		for _, from := range d.from {
			j := slices.Index(cols, from)
			if j < 0 {
				return nil
			}
			col.at = append(col.at, j)
		}
		f.derived = append(f.derived, col)
		at[i] = -len(f.derived)
	}
	return at
}

// copyInto waits for the side to commit and copies its index into the
// loader's full-text table, in the loader's transaction.
func (f *ftsSide) copyInto(l *loader) error {
	if err := f.q.send(seedStmt{sql: ftsCommit}); err == nil {
		f.q.end()
	}
	if err := f.q.wait(); err != nil {
		return fmt.Errorf("build the scratch index: %w", err)
	}
	for _, suffix := range []string{"_data", "_idx", "_docsize"} {
		t := f.table + suffix
		var n int
		if err := l.tx.QueryRowContext(l.ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?", t).Scan(&n); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
		if n == 0 {
			continue // no _docsize with columnsize=0 (migration 12)
		}
		if _, err := l.tx.ExecContext(l.ctx, "DELETE FROM "+t+"; INSERT INTO "+t+" SELECT * FROM "+ftsScratchName+"."+t); err != nil {
			return fmt.Errorf("copy %s: %w", t, err)
		}
	}
	if testHookFTSSide != nil {
		testHookFTSSide(f.table)
	}
	return nil
}

// ftsStructureID is the rowid of an FTS5 index's structure record in its
// _data table: its levels and the segments of each.
const ftsStructureID = 10

// ftsBatchPages is about how many pages the segment a batch of the writer
// adds to the full-text index holds (1-2 with 64 clients filing).
const ftsBatchPages = 2

// raiseSegments moves the segments of a filled index from level 0 to the
// levels an index written batch by batch would hold segments of their size
// at. FTS5 merges a level when it holds 16 segments (migration 9), all of
// them, and a seeded index's segment at level 0 was merged again with the
// small segments the first 16 batches after it added, and again at each
// level it rose to: 131 MB rewritten every time for a million items, 32
// pages a batch (ftsMergePages), which halved bug filing into that
// database for hours. (A million items make one segment; more make one per
// seedFTSHash of pending terms.)
// It writes the record behind FTS5's back: the loader's connection is
// closed after the load, not used again.
func (l *loader) raiseSegments(table string) error {
	l.discard = true
	return raiseStructure(l.ctx, l.tx, table)
}

// raiseStructure rewrites the structure record of the full-text table
// table (raiseSegments) in tx, when its segments belong higher. The
// connection of tx must not be used for that table again.
func raiseStructure(ctx context.Context, tx *sql.Tx, table string) error {
	t := table + "_data"
	var block []byte
	if err := tx.QueryRowContext(ctx, "SELECT block FROM "+t+" WHERE id = ?", ftsStructureID).Scan(&block); err != nil {
		return fmt.Errorf("read %s's structure: %w", table, err)
	}
	raised, ok := raiseSegments(block, ftsBatchPages)
	if !ok {
		return nil // left as FTS5 made it
	}
	if _, err := tx.ExecContext(ctx, "UPDATE "+t+" SET block = ? WHERE id = ?", raised, ftsStructureID); err != nil {
		return fmt.Errorf("write %s's structure: %w", table, err)
	}
	return nil
}

// raiseFTS raises the segments of the full-text table table after a
// migration rebuilt it (see raiseSegments): a rebuilt index is one segment
// at level 0, which the writer's merges would rewrite whole again and
// again. It runs on a connection of its own, closed afterwards: FTS5 keeps
// the structure it read with the connection, and another connection's
// commit makes the others read it again.
func (s *Store) raiseFTS(ctx context.Context, table string) error {
	conn, err := s.writerConn(ctx)
	if err != nil {
		return err
	}
	defer conn.Raw(func(any) error { return driver.ErrBadConn }) // closes it
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := raiseStructure(ctx, tx, table); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// raiseSegments rewrites an FTS5 structure record (fts5_index.c: a 4-byte
// cookie; the number of levels, of segments and of writes; per level the
// number of segments being merged and of segments; per segment its id and
// first and last page, all varints) whose segments are all at level 0, in
// no merge, so that each is at the least level L where 16^L batches of
// batchPages pages make at least its pages, and no older one (FTS5 lists
// a level's oldest first) is below a newer one. It tells false, and changes
// nothing, for any other record or when no segment moves.
func raiseSegments(block []byte, batchPages int64) ([]byte, bool) {
	if len(block) < 4 {
		return nil, false
	}
	var v []uint64
	for i := 4; i < len(block); {
		x, n := getVarint(block[i:])
		if n == 0 {
			return nil, false
		}
		v, i = append(v, x), i+n
	}
	// levels 1, segments n, writes, merging 0, segments n, then n × (id, first, last)
	if len(v) < 5 || v[0] != 1 || v[3] != 0 || v[1] != v[4] || uint64(len(v)-5) != 3*v[4] {
		return nil, false
	}
	segs := v[5:]
	levels := make([]int, v[4])
	top := 0
	for i := range levels {
		first, last := segs[3*i+1], segs[3*i+2]
		if last < first {
			return nil, false
		}
		for n, pages := batchPages, int64(last-first+1); n < pages && levels[i] < 16; n *= 16 {
			levels[i]++
		}
		if i > 0 {
			levels[i] = min(levels[i], levels[i-1])
		}
		top = max(top, levels[i])
	}
	if top == 0 {
		return nil, false
	}
	out := append([]byte{}, block[:4]...)
	out = appendVarint(out, uint64(top+1))
	out = appendVarint(out, v[1])
	out = appendVarint(out, v[2])
	for l := 0; l <= top; l++ {
		n := 0
		for _, at := range levels {
			if at == l {
				n++
			}
		}
		out = appendVarint(appendVarint(out, 0), uint64(n))
		for i, at := range levels {
			if at == l {
				out = appendVarint(appendVarint(appendVarint(out, segs[3*i]), segs[3*i+1]), segs[3*i+2])
			}
		}
	}
	return out, true
}

// getVarint reads an SQLite varint (big-endian groups of 7 bits, all 8 in
// a ninth byte), telling how many bytes it took; 0 when b ends first.
func getVarint(b []byte) (uint64, int) {
	var x uint64
	for i := 0; i < len(b) && i < 9; i++ {
		if i == 8 {
			return x<<8 | uint64(b[i]), 9
		}
		x = x<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return x, i + 1
		}
	}
	return 0, 0
}

// appendVarint appends x as an SQLite varint.
func appendVarint(b []byte, x uint64) []byte {
	if x>>56 != 0 {
		var nine [9]byte
		nine[8] = byte(x)
		x >>= 8
		for i := 7; i >= 0; i-- {
			nine[i] = byte(x&0x7f) | 0x80
			x >>= 7
		}
		return append(b, nine[:]...)
	}
	var buf [8]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte(x&0x7f) | 0x80
		if x >>= 7; x == 0 {
			break
		}
	}
	buf[len(buf)-1] &^= 0x80
	return append(b, buf[i:]...)
}

// testHookFTSSide, when set by a test, hears of each index a side built.
var testHookFTSSide func(table string)

// close stops the side if it still runs, and removes the scratch
// database; with the loader, whose transaction has ended, it detaches it
// first.
func (f *ftsSide) close(l *loader) error {
	var errs []error
	if f.q != nil {
		select {
		case <-f.q.done:
		default:
			f.q.end() // the load failed: its error is the one to report
		}
		f.q.wait()
	}
	if l != nil {
		if _, err := l.conn.ExecContext(l.ctx, "DETACH DATABASE "+ftsScratchName); err != nil {
			errs = append(errs, fmt.Errorf("detach the scratch index: %w", err))
		}
	}
	if f.conn != nil {
		f.conn.Raw(func(any) error { f.p.close(); return nil })
		errs = append(errs, f.conn.Close())
	}
	if f.db != nil {
		errs = append(errs, f.db.Close())
	}
	return errors.Join(append(errs, f.removeFiles())...)
}

// removeFiles removes the scratch database and its journals.
func (f *ftsSide) removeFiles() error {
	var errs []error
	for _, p := range []string{f.path, f.path + "-journal", f.path + "-wal", f.path + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove the scratch index: %w", err))
		}
	}
	return errors.Join(errs...)
}
