package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// ExportRow is one feedback item as exported.
type ExportRow struct {
	models.Feedback
	ChangeKey string `json:"change_key" gorm:"column:change_key"`
}

// exportCols are the export's columns, in the order the col constants name:
// the integers first (exportInts of them), then texts and timestamps.
var exportCols = [...]string{"f.id", "f.build_id", "f.change_id", "f.tester_id", "f.duplicate_of", "f.duplicates",
	"f.comment_count", "f.attachment_count", "f.created_at", "f.updated_at", "f.last_staff_reply_at", "f.kind",
	"f.severity", "f.status", "f.title", "f.body", "f.platform_os", "f.platform_device", "f.platform_client_version"}

const (
	colID = iota
	colBuildID
	colChangeID
	colTesterID
	colDuplicateOf
	colDuplicates
	colCommentCount
	colAttachmentCount
	colCreatedAt
	colUpdatedAt
	colLastStaffReplyAt
	colKind
	colSeverity
	colStatus
	colTitle
	colBody
	colOS
	colDevice
	colClientVersion
	nExportCols
)

const exportInts = colCreatedAt

// ExportFeedback calls fn for every item of a build, oldest first, reading
// a few hundred rows at a time so memory stays flat at any size. The row and what it points
// to are reused: fn must not keep them.
//
// On SQLite the row comes packed into one text (packedColumns): for each
// column of each row the driver makes up to three allocations and four calls
// into SQLite that each take a lock, and parses timestamps with time.Parse;
// one column instead of 21 made the export about twice as fast.
//
// Tester names and change keys are read once, not joined to every row:
// that made the SQLite export a third faster.
func (s *Store) ExportFeedback(ctx context.Context, buildID int64, fn func(*ExportRow) error) error {
	names, err := s.exportNames(ctx, buildID)
	if err != nil {
		return err
	}
	f := exportFields{sqlite: s.dialect == SQLite, names: names}
	cols := strings.Join(exportCols[:], ", ")
	n := nExportCols
	if f.sqlite {
		cols, n = packedColumns(exportCols[:], exportInts), 1
	}
	rows, err := s.read(ctx).Raw(`SELECT `+cols+`
		FROM feedback f WHERE f.build_id = ? ORDER BY f.id`, buildID).Rows()
	if err != nil {
		return err
	}
	// The rows are read on a goroutine of their own, a batch at a time,
	// while this one decodes them and fn writes them out: the two halves
	// of the work run on two cores.
	batches := make(chan exportBatch, 2)
	stop := make(chan struct{})
	go readExport(rows, n, batches, stop)
	defer func() {
		close(stop)
		for range batches { // until readExport has closed the rows
		}
	}()
	var r ExportRow
	for b := range batches {
		if b.err != nil {
			return b.err
		}
		// database/sql ends the rows when ctx ends, but from a goroutine
		// of its own: a short export could be read to its end first.
		if err := ctx.Err(); err != nil {
			return err
		}
		for at := 0; at < len(b.vals); at += n {
			f.vals = b.vals[at : at+n]
			if err := f.row(&r, buildID); err != nil {
				return err
			}
			if err := fn(&r); err != nil {
				return err
			}
		}
	}
	return nil
}

// exportBatchRows is how many rows readExport hands over at a time.
const exportBatchRows = 256

// exportBatch is rows of the export, n values a row, or the error that
// ended the reading.
type exportBatch struct {
	vals []any
	err  error
}

// readExport scans rows, n values a row, and sends them out in batches
// until they end, an error, or stop; then it closes rows and out.
func readExport(rows *sql.Rows, n int, out chan<- exportBatch, stop <-chan struct{}) {
	defer close(out)
	defer rows.Close()
	send := func(b exportBatch) bool {
		select {
		case out <- b:
			return true
		case <-stop:
			return false
		}
	}
	// Scanning into any takes the driver's values as they are (texts and
	// bytes are the row's own copies).
	vals := make([]any, n)
	dest := make([]any, n)
	for i := range dest {
		dest[i] = &vals[i]
	}
	batch := make([]any, 0, n*exportBatchRows)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			send(exportBatch{err: fmt.Errorf("export row: %w", err)})
			return
		}
		batch = append(batch, vals...)
		if len(batch) == cap(batch) {
			if !send(exportBatch{vals: batch}) {
				return
			}
			batch = make([]any, 0, n*exportBatchRows)
		}
	}
	if len(batch) > 0 && !send(exportBatch{vals: batch}) {
		return
	}
	if err := rows.Err(); err != nil {
		send(exportBatch{err: err})
	}
}

// row decodes the values in f.vals into r.
func (f *exportFields) row(r *ExportRow, buildID int64) error {
	var sevOK, changeOK, dupOK, lastReplyOK bool
	f.read()
	*r = ExportRow{}
	r.ID = f.int(colID)
	r.BuildID = f.int(colBuildID)
	f.changeID, changeOK = f.nullInt(colChangeID)
	r.TesterID = f.int(colTesterID)
	f.dupOf, dupOK = f.nullInt(colDuplicateOf)
	r.Duplicates = int(f.int(colDuplicates))
	r.CommentCount = int(f.int(colCommentCount))
	r.AttachmentCount = int(f.int(colAttachmentCount))
	r.CreatedAt = f.time(colCreatedAt)
	r.UpdatedAt = f.time(colUpdatedAt)
	f.lastReply, lastReplyOK = f.nullTime(colLastStaffReplyAt)
	r.Kind = f.text(colKind)
	f.sev, sevOK = f.nullText(colSeverity)
	r.Status = f.text(colStatus)
	r.Title = f.text(colTitle)
	r.Body = f.text(colBody)
	r.Platform.OS = f.text(colOS)
	r.Platform.Device = f.text(colDevice)
	r.Platform.ClientVersion = f.text(colClientVersion)
	r.TesterName = f.names.tester(r.TesterID, f)
	if changeOK {
		r.ChangeKey = f.names.change(f.changeID, f)
	}
	if f.err != nil {
		return fmt.Errorf("export row %d of build %d: %w", r.ID, buildID, f.err)
	}
	if changeOK {
		r.ChangeID = &f.changeID
	}
	if dupOK {
		r.DuplicateOf = &f.dupOf
	}
	if lastReplyOK {
		r.LastStaffReplyAt = &f.lastReply
	}
	if sevOK {
		r.Severity = &f.sev
	}
	return nil
}

// exportNames are the names of a build's testers and the keys of its
// changes, for the rows of an export.
type exportNames struct {
	db               *gorm.DB
	testers, changes map[int64]string
}

func (s *Store) exportNames(ctx context.Context, buildID int64) (*exportNames, error) {
	n := &exportNames{db: s.read(ctx), testers: map[int64]string{}, changes: map[int64]string{}}
	load := func(m map[int64]string, query string) error {
		rows, err := n.db.Raw(query, buildID).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var text string
			if err := rows.Scan(&id, &text); err != nil {
				return err
			}
			m[id] = text
		}
		return rows.Err()
	}
	if err := load(n.testers, `SELECT u.id, u.name FROM grants g JOIN users u ON u.id = g.user_id WHERE g.build_id = ?`); err != nil {
		return nil, fmt.Errorf("export: read the testers: %w", err)
	}
	if err := load(n.changes, `SELECT id, "key" FROM changes WHERE build_id = ?`); err != nil {
		return nil, fmt.Errorf("export: read the changes: %w", err)
	}
	return n, nil
}

// tester is a tester's name; one without a grant on the build (none files
// feedback so) is read on its own.
func (n *exportNames) tester(id int64, f *exportFields) string {
	return n.lookup(n.testers, id, "SELECT name FROM users WHERE id = ?", f)
}

// change is a change's key, "" for one that is gone.
func (n *exportNames) change(id int64, f *exportFields) string {
	return n.lookup(n.changes, id, `SELECT "key" FROM changes WHERE id = ?`, f)
}

func (n *exportNames) lookup(m map[int64]string, id int64, query string, f *exportFields) string {
	if text, ok := m[id]; ok {
		return text
	}
	var text string
	if err := n.db.Raw(query, id).Row().Scan(&text); err != nil && !errors.Is(err, sql.ErrNoRows) {
		f.fail(err)
	}
	m[id] = text
	return text
}

// packedColumns is an SQLite expression that packs columns into one text:
// the first nInts, integers, each followed by a comma; the others each as
// its length in bytes, a colon and its text. A NULL is an empty integer or
// a bare colon (concat takes a NULL as empty; octet_length of a NULL is
// NULL). Both functions need SQLite 3.44, older than minSQLite.
func packedColumns(cols []string, nInts int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		if i < nInts {
			parts[i] = c + ", ','"
		} else {
			parts[i] = "octet_length(" + c + "), ':', " + c
		}
	}
	return "concat(" + strings.Join(parts, ", ") + ")"
}

// unpackColumns splits what packedColumns made into fields, valid false for
// a NULL; it tells whether p held exactly len(fields) of them. The fields
// share p's memory.
func unpackColumns(p string, nInts int, fields []string, valid []bool) bool {
	for i := range fields {
		if i < nInts {
			j := strings.IndexByte(p, ',')
			if j < 0 {
				return false
			}
			fields[i], valid[i], p = p[:j], j > 0, p[j+1:]
			continue
		}
		j := strings.IndexByte(p, ':')
		if j < 0 || j > 10 {
			return false
		}
		if j == 0 {
			fields[i], valid[i], p = "", false, p[1:]
			continue
		}
		n, ok := digits(p[:j])
		if !ok || n > len(p)-j-1 {
			return false
		}
		fields[i], valid[i], p = p[j+1:j+1+n], true, p[j+1+n:]
	}
	return p == ""
}

// exportFields reads the columns of one row, from the driver's values on
// PostgreSQL or from the packed text on SQLite, keeping the first error.
type exportFields struct {
	sqlite bool
	vals   []any
	packed [nExportCols]string
	valid  [nExportCols]bool
	names  *exportNames
	err    error
	// What the row's pointers point to, reused from row to row.
	sev             string
	changeID, dupOf int64
	lastReply       time.Time
}

// read takes the row just scanned into vals.
func (f *exportFields) read() {
	if !f.sqlite {
		return
	}
	p, ok := f.vals[0].(string)
	if !ok || !unpackColumns(p, exportInts, f.packed[:], f.valid[:]) {
		f.fail(fmt.Errorf("malformed packed row %.200q", f.vals[0]))
	}
}

func (f *exportFields) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// int reads an integer column, 0 for a NULL.
func (f *exportFields) int(i int) int64 {
	n, _ := f.nullInt(i)
	return n
}

func (f *exportFields) nullInt(i int) (int64, bool) {
	if f.sqlite {
		if !f.valid[i] {
			return 0, false
		}
		n, err := strconv.ParseInt(f.packed[i], 10, 64)
		if err != nil {
			f.fail(fmt.Errorf("%s: %w", exportCols[i], err))
		}
		return n, true
	}
	switch v := f.vals[i].(type) {
	case nil:
		return 0, false
	case int64:
		return v, true
	}
	f.fail(fmt.Errorf("%s: want an integer, have %T", exportCols[i], f.vals[i]))
	return 0, false
}

// text reads a text column, "" for a NULL.
func (f *exportFields) text(i int) string {
	s, _ := f.nullText(i)
	return s
}

func (f *exportFields) nullText(i int) (string, bool) {
	if f.sqlite {
		return f.packed[i], f.valid[i]
	}
	switch v := f.vals[i].(type) {
	case nil:
		return "", false
	case string:
		return v, true
	}
	f.fail(fmt.Errorf("%s: want a text, have %T", exportCols[i], f.vals[i]))
	return "", false
}

// time reads a timestamp column, the zero time for a NULL.
func (f *exportFields) time(i int) time.Time {
	t, _ := f.nullTime(i)
	return t
}

func (f *exportFields) nullTime(i int) (time.Time, bool) {
	if f.sqlite {
		if !f.valid[i] {
			return time.Time{}, false
		}
		t, ok := parseStoredTime(f.packed[i])
		if !ok {
			f.fail(fmt.Errorf("%s: %q is not a time", exportCols[i], f.packed[i]))
		}
		return t, ok
	}
	switch v := f.vals[i].(type) {
	case nil:
		return time.Time{}, false
	case time.Time:
		return v, true
	}
	f.fail(fmt.Errorf("%s: want a time, have %T", exportCols[i], f.vals[i]))
	return time.Time{}, false
}

// parseStoredTime reads a timestamp as SQLite stores it, to the same
// time.Time the driver (github.com/glebarez/go-sqlite) makes of it. The
// driver writes "2006-01-02 15:04:05.999999999-07:00" and the store writes
// UTC, so that shape with +00:00 is read here without time.Parse; any other
// text goes through the driver's own rules (driverParseTime).
func parseStoredTime(s string) (time.Time, bool) {
	const date = len("2006-01-02 15:04:05")
	n := len(s)
	if n < date+6 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' || s[n-6:] != "+00:00" {
		return driverParseTime(s)
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 ||
		day > daysIn(time.Month(month), year) || hour > 23 || minute > 59 || sec > 59 {
		return driverParseTime(s)
	}
	nsec := 0
	if frac := s[date : n-6]; frac != "" {
		// A point and one to nine digits, as time.Format writes them.
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return driverParseTime(s)
		}
		f, ok := digits(frac[1:])
		if !ok {
			return driverParseTime(s)
		}
		for i := len(frac) - 1; i < 9; i++ {
			f *= 10
		}
		nsec = f
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// digits reads a run of decimal digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	if m == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 31 - int(m-1)%7%2
}

// driverTimeFormats are the layouts the driver tries, in its order.
var driverTimeFormats = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// driverParseTime is the driver's parseTime: time.Time.String's form, then
// the layouts above in UTC with a trailing Z dropped.
func driverParseTime(s string) (time.Time, bool) {
	str := s
	if x := strings.Index(s, "m="); x > 0 {
		str = s[:x]
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999 -0700 MST", strings.TrimSpace(str)); err == nil {
		return t, true
	}
	ts := strings.TrimSuffix(s, "Z")
	for _, f := range driverTimeFormats {
		if t, err := time.ParseInLocation(f, ts, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
