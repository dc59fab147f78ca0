package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// Set-based ingest. Feedback and votes are the writes that arrive by the
// thousand. In a group commit, the batch's feedback runs as a handful of
// statements whatever its size: one read each for the grants, the
// idempotency keys and the changes, one multi-row INSERT for the items, the
// events and the audit entries, and one UPDATE per aggregate table. The
// checks and their order are the ones of the one-at-a-time path
// (createFeedbackTx, castVoteTx); if a set-based batch fails as a whole,
// its writes run again on that path. On PostgreSQL, after lockBatch.

// ftsMergePages is how many pages of the full-text index's segments a
// catch-up (ftsindex.go) merges at least; it merges as many as it indexes
// items (FTS5's own merges are off: migration 8). FTS5 merged 64 pages
// times the number of levels at once, every 64 pages written, holding the
// writer 10-30 ms; in steps, the index keeps as few segments and the
// bug-filing p99 fell 2-8 ms (when each batch indexed its items and merged
// 32 pages). When no level has 16 segments to merge (migration 9), the
// step does nothing. Writes outside catch-ups (edits, erasures) still merge
// when a level reaches 64 segments (FTS5's crisismerge).
const ftsMergePages = 32

type feedbackJob struct {
	in      NewFeedback
	fb      *models.Feedback
	created bool
}

type voteJob struct {
	testerID, changeID int64
	vote, comment      string
	v                  *models.Vote
}

// A batch's rows reach the database as a VALUES list, one parameter a
// value, in statements the writer prepares once and keeps (on SQLite,
// prepared.go; pgx keeps PostgreSQL's): one for each power of two rows up
// to maxBatchRows, so a few statements serve every batch size. (On SQLite
// they once went as one JSON parameter read back with jsonb_each, which
// spared the driver's parse of long statements; with kept statements,
// reading the JSON cost more than binding the values.)

// rowsMark stands in a statement of execRows or queryRows for a VALUES
// list that is an INSERT's rows; its columns are column1, column2, … (on
// both databases).
const rowsMark = "/*rows*/"

// typedRows stands for a VALUES list read anywhere else (a join, an IN, an
// UPDATE's FROM): PostgreSQL would take its parameters for text there, so
// its first row casts each column to its type (the other rows follow the
// first). SQLite needs no types, and gets none.
func typedRows(types ...string) string { return "/*rows " + strings.Join(types, ",") + "*/" }

// maxBatchRows is the most rows of one statement (a power of two; with
// 15 values a row, far below either database's limit of parameters).
const maxBatchRows = 64

type rowsKey struct {
	query      string
	cols, rows int
	dialect    Dialect
}

// rowsTexts keeps the statements made from rowsMark queries, by rowsKey:
// the writers of every open store share them.
var rowsTexts sync.Map

// withRows is query with its rows mark replaced by a VALUES list of rows
// rows, cols parameters each, for dialect.
func withRows(query string, cols, rows int, dialect Dialect) (string, error) {
	k := rowsKey{query, cols, rows, dialect}
	if q, ok := rowsTexts.Load(k); ok {
		return q.(string), nil
	}
	start := strings.Index(query, "/*rows")
	end := strings.Index(query[max(start, 0):], "*/")
	if start < 0 || end < 0 {
		return "", fmt.Errorf("no rows mark in %q", query)
	}
	end += start + len("*/")
	var types []string
	if spec := strings.TrimSpace(query[start+len("/*rows") : end-len("*/")]); spec != "" {
		if types = strings.Split(spec, ","); len(types) != cols {
			return "", fmt.Errorf("%d column types for rows of %d", len(types), cols)
		}
	}
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	first := row
	if dialect == Postgres && types != nil {
		casts := make([]string, cols)
		for i, t := range types {
			casts[i] = "CAST(? AS " + t + ")"
		}
		first = "(" + strings.Join(casts, ", ") + ")"
	}
	q := query[:start] + "VALUES " + first + strings.Repeat(", "+row, rows-1) + query[end:]
	rowsTexts.Store(k, q)
	return q, nil
}

// eachRows calls run with the statement of query and the arguments of
// every run of rows of args, cols values a row: a power of two rows at a
// time, largest first.
func (s *Store) eachRows(query string, cols int, args []any, run func(query string, args []any) error) error {
	if cols <= 0 || len(args)%cols != 0 {
		return fmt.Errorf("%d values for rows of %d", len(args), cols)
	}
	for rows := len(args) / cols; rows > 0; {
		n := maxBatchRows
		for n > rows {
			n /= 2
		}
		q, err := withRows(query, cols, n, s.dialect)
		if err != nil {
			return err
		}
		if err := run(q, args[:n*cols]); err != nil {
			return err
		}
		args, rows = args[n*cols:], rows-n
	}
	return nil
}

// execRows runs query, in which a rows mark stands for the rows of args,
// cols values a row.
func (s *Store) execRows(tx *gorm.DB, query string, cols int, args []any) error {
	return s.eachRows(query, cols, args, func(q string, a []any) error { return s.exec(tx, q, a...) })
}

// exec runs a statement of the writer's batch (tx): prepared once and kept
// when the writer has its statements (prepared.go), through gorm otherwise.
func (s *Store) exec(tx *gorm.DB, query string, args ...any) error {
	if b := s.batch; b != nil && b.direct {
		return b.prepared.exec(query, args...)
	}
	return tx.Exec(query, args...).Error
}

// queryRows runs query, in which a rows mark stands for the rows of args,
// cols values a row, calling scan for every row of the result.
func (s *Store) queryRows(tx *gorm.DB, query string, cols int, args []any, scan func(rowScanner) error) error {
	return s.eachRows(query, cols, args, func(q string, a []any) error { return s.query(tx, q, a, scan) })
}

// query runs query with args in the writer's batch (tx), calling scan for
// every row of the result, as exec runs statements.
func (s *Store) query(tx *gorm.DB, query string, args []any, scan func(rowScanner) error) error {
	if b := s.batch; b != nil && b.direct {
		return b.prepared.query(query, args, scan)
	}
	rows, err := tx.Raw(query, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// grantKey is a tester's grant on a build.
type grantKey struct{ build, tester int64 }

// writeGrant is a live grant with what a write needs of its build.
type writeGrant struct {
	id    int64
	build models.Build
}

// writerCache keeps the live grants the writer has read, with their
// builds, and the webhooks of their products: every batch of feedback or
// votes needs those of its testers, and they change far less often than
// they are read. Only the writer goroutine uses it. It is emptied after
// any write other than feedback and votes (one may revoke a grant, change
// a build or a webhook), and when another connection has committed since
// (PRAGMA data_version: a command run beside the server).
// Bulk loads (seed.go) run on the writer's own connection, unseen by
// data_version: they only add products, builds and grants, which the cache
// reads when first asked.
type writerCache struct {
	grants      map[grantKey]*writeGrant
	hooks       map[int64][]models.Webhook // by product
	dataVersion int64
}

// maxCachedGrants bounds the cache (about 200 bytes a grant).
const maxCachedGrants = 20000

// check empties the cache if another connection committed since the last
// check; tx is the batch's transaction.
func (c *writerCache) check(s *Store, tx *gorm.DB) {
	var v int64
	err := s.query(tx, "PRAGMA data_version", nil, func(row rowScanner) error { return row.Scan(&v) })
	if err != nil || v != c.dataVersion {
		c.reset()
		c.dataVersion = v
	}
}

func (c *writerCache) reset() { c.grants, c.hooks = nil, nil }

// load returns the live grants of pairs, with their builds, reading those
// it does not hold.
func (c *writerCache) load(s *Store, tx *gorm.DB, pairs map[grantKey]struct{}) (map[grantKey]*writeGrant, error) {
	out := make(map[grantKey]*writeGrant, len(pairs))
	var args []any
	for k := range pairs {
		if g := c.grants[k]; g != nil {
			out[k] = g
			continue
		}
		args = append(args, k.tester, k.build)
	}
	if len(args) == 0 {
		return out, nil
	}
	read, err := s.loadGrants(tx, args)
	if err != nil {
		return nil, err
	}
	if c.grants == nil || len(c.grants)+len(read) > maxCachedGrants {
		c.grants = make(map[grantKey]*writeGrant, len(read))
	}
	for k, g := range read {
		out[k], c.grants[k] = g, g
	}
	return out, nil
}

// loadGrants reads the live grants of args (tester and build id pairs),
// with their builds.
func (s *Store) loadGrants(tx *gorm.DB, args []any) (map[grantKey]*writeGrant, error) {
	out := make(map[grantKey]*writeGrant, len(args)/2)
	err := s.queryRows(tx, `SELECT g.user_id, g.id, b.id, b.product_id, b.version, b.closes_at, b.policy_min_votes, b.policy_revert_threshold,
		b.policy_confidence, b.policy_block_severity FROM grants g JOIN builds b ON b.id = g.build_id
		WHERE g.revoked_at IS NULL AND (g.user_id, g.build_id) IN (`+typedRows("bigint", "bigint")+`)`, 2, args, func(rows rowScanner) error {
		var tester int64
		g := &writeGrant{}
		b := &g.build
		if err := rows.Scan(&tester, &g.id, &b.ID, &b.ProductID, &b.Version, &b.ClosesAt, &b.Policy.MinVotes, &b.Policy.RevertThreshold,
			&b.Policy.Confidence, &b.Policy.BlockSeverity); err != nil {
			return fmt.Errorf("scan grant: %w", err)
		}
		out[grantKey{b.ID, tester}] = g
		return nil
	})
	return out, err
}

// loadChanges reads changes by id, with their aggregates.
func (s *Store) loadChanges(tx *gorm.DB, ids map[int64]struct{}) (map[int64]*models.Change, error) {
	out := make(map[int64]*models.Change, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ids))
	for id := range ids {
		args = append(args, id)
	}
	err := s.queryRows(tx, `SELECT id, build_id, "key", title, keep_votes, revert_votes, open_low, open_medium, open_high, open_critical
		FROM changes WHERE id IN (`+typedRows("bigint")+`)`, 1, args, func(rows rowScanner) error {
		c := &models.Change{}
		if err := rows.Scan(&c.ID, &c.BuildID, &c.Key, &c.Title, &c.KeepVotes, &c.RevertVotes, &c.OpenLow, &c.OpenMedium, &c.OpenHigh, &c.OpenCritical); err != nil {
			return fmt.Errorf("scan change: %w", err)
		}
		out[c.ID] = c
		return nil
	})
	return out, err
}

// batchEffects gathers what a set-based batch appends besides its rows.
type batchEffects struct {
	s      *Store
	now    time.Time
	events []any // build_id, type, data, at
	audit  []any // at, actor_id, action, subject_type, subject_id, detail
}

func (e *batchEffects) event(buildID int64, typ string, data any) error {
	doc, err := json.Marshal(data)
	if err != nil {
		return err
	}
	e.events = append(e.events, buildID, typ, string(doc), e.now)
	return nil
}

func (e *batchEffects) auditEntry(actor int64, action, subjectType string, subjectID int64, detail any) error {
	doc, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	e.audit = append(e.audit, e.now, actor, action, subjectType, subjectID, string(doc))
	return nil
}

// hook queues a webhook event of build b, reading its product's webhooks
// once (writerCache).
func (e *batchEffects) hook(tx *gorm.DB, b *models.Build, event string, payload map[string]any) error {
	c := &e.s.batch.cache
	hooks, ok := c.hooks[b.ProductID]
	if !ok {
		if err := tx.Where("product_id = ? AND deleted_at IS NULL", b.ProductID).Find(&hooks).Error; err != nil {
			return err
		}
		if c.hooks == nil {
			c.hooks = map[int64][]models.Webhook{}
		}
		c.hooks[b.ProductID] = hooks
	}
	for _, h := range hooks {
		if h.Wants(event) {
			return e.s.hookProduct(tx, b.ProductID, b, event, payload)
		}
	}
	return nil
}

// reflag compares a change's flag before and after the batch, and reports
// a move on the stream (and to webhooks when it became flagged).
func (e *batchEffects) reflag(tx *gorm.DB, b *models.Build, before, after *models.Change) error {
	event, payload := flagMoved(b.Policy, before, after)
	if event == nil {
		return nil
	}
	event["build_id"] = after.BuildID
	if err := e.event(after.BuildID, "flag", event); err != nil {
		return err
	}
	if payload == nil {
		return nil
	}
	return e.hook(tx, b, models.EventChangeFlagged, payload)
}

// flush writes the events and audit entries.
func (e *batchEffects) flush(tx *gorm.DB) error {
	if err := e.s.execRows(tx, "INSERT INTO build_events (build_id, type, data, at) "+rowsMark, 4, e.events); err != nil {
		return err
	}
	if len(e.events) > 0 {
		if err := e.s.notifyReplicas(tx); err != nil {
			return err
		}
	}
	return e.s.execRows(tx, "INSERT INTO audit_events (at, actor_id, action, subject_type, subject_id, detail) "+rowsMark, 6, e.audit)
}

// bumpGrants adds to a count column of grants (feedback_count or
// vote_count) and marks them active at now.
func (s *Store) bumpGrants(tx *gorm.DB, column string, adds map[int64]int, now time.Time) error {
	args := make([]any, 0, 3*len(adds))
	for id, n := range adds {
		args = append(args, id, n, now)
	}
	return s.execRows(tx, "UPDATE grants SET "+column+" = "+column+" + v.column2, last_active_at = v.column3 FROM ("+typedRows("bigint", "integer", "timestamptz")+
		") AS v WHERE grants.id = v.column1", 3, args)
}

// newIDs are n ids for new rows of table, ascending: on SQLite the ones
// its AUTOINCREMENT would give next (the writer is alone); on PostgreSQL
// drawn from the table's sequence, which other replicas draw from too.
func (s *Store) newIDs(tx *gorm.DB, table string, n int) ([]int64, error) {
	ids := make([]int64, 0, n)
	if n == 0 {
		return ids, nil
	}
	if s.dialect == Postgres {
		err := s.query(tx, `SELECT nextval(pg_get_serial_sequence(?, 'id')) AS id FROM generate_series(1, ?) ORDER BY id`,
			[]any{table, n}, func(row rowScanner) error {
				var id int64
				err := row.Scan(&id)
				ids = append(ids, id)
				return err
			})
		if err == nil && len(ids) != n {
			err = fmt.Errorf("%d ids from the sequence of %s, want %d", len(ids), table, n)
		}
		return ids, err
	}
	var next int64
	err := s.query(tx, `SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), COALESCE((SELECT MAX(id) FROM `+table+`), 0)) + 1`,
		[]any{table}, func(row rowScanner) error { return row.Scan(&next) })
	for i := range n {
		ids = append(ids, next+int64(i))
	}
	return ids, err
}

type idemKey struct {
	tester int64
	key    string
}

// feedbackColumns are read into a models.Feedback by scanFeedback.
const feedbackColumns = `id, build_id, change_id, tester_id, kind, severity, title, body, platform_os, platform_device,
	platform_client_version, status, duplicate_of, duplicates, idempotency_key, comment_count, attachment_count,
	last_staff_reply_at, created_at, updated_at`

// filedByKey reads the items filed with the keys of its rows
// (tester, key). The index of keys holds only items with a key (migration
// 11): SQLite uses it for a join on the key, which says the key is not
// NULL, and does not for a row value's IN, which scanned the index whole.
var filedByKey = `SELECT ` + feedbackColumns + ` FROM (` + typedRows("bigint", "text") + `) AS k
	JOIN feedback f ON f.tester_id = k.column1 AND f.idempotency_key = k.column2`

func scanFeedback(rows rowScanner, f *models.Feedback) error {
	return rows.Scan(&f.ID, &f.BuildID, &f.ChangeID, &f.TesterID, &f.Kind, &f.Severity, &f.Title, &f.Body, &f.Platform.OS,
		&f.Platform.Device, &f.Platform.ClientVersion, &f.Status, &f.DuplicateOf, &f.Duplicates, &f.IdempotencyKey,
		&f.CommentCount, &f.AttachmentCount, &f.LastStaffReplyAt, &f.CreatedAt, &f.UpdatedAt)
}

// feedbackEvent and feedbackAudit are the stream and audit documents of a
// new item (fields in the order of the one-at-a-time path's maps).
type feedbackEvent struct {
	BuildID    int64   `json:"build_id"`
	ChangeID   *int64  `json:"change_id"`
	FeedbackID int64   `json:"feedback_id"`
	Kind       string  `json:"kind"`
	Severity   *string `json:"severity"`
	Status     string  `json:"status"`
}

type feedbackAudit struct {
	BuildID int64  `json:"build_id"`
	Kind    string `json:"kind"`
}

// buildCounts are the aggregates a batch adds to a build.
type buildCounts struct{ feedback, low, medium, high, critical int }

func (c *buildCounts) addBug(severity string, n int) {
	switch severity {
	case models.SeverityLow:
		c.low += n
	case models.SeverityMedium:
		c.medium += n
	case models.SeverityHigh:
		c.high += n
	case models.SeverityCritical:
		c.critical += n
	}
}

// ingestFeedback files the feedback of jobs idx, set-based.
func (s *Store) ingestFeedback(tx *gorm.DB, jobs []*writeJob, results []error, idx []int) error {
	now := s.now()
	pairs := map[grantKey]struct{}{}
	changeIDs := map[int64]struct{}{}
	var keyArgs []any
	for _, i := range idx {
		in := &jobs[i].feedback.in
		pairs[grantKey{in.BuildID, in.TesterID}] = struct{}{}
		if in.ChangeID != nil {
			changeIDs[*in.ChangeID] = struct{}{}
		}
		if in.IdempotencyKey != "" {
			keyArgs = append(keyArgs, in.TesterID, in.IdempotencyKey)
		}
	}
	grants, err := s.batch.cache.load(s, tx, pairs)
	if err != nil {
		return err
	}
	filed := map[idemKey]*models.Feedback{}
	err = s.queryRows(tx, filedByKey, 2, keyArgs,
		func(rows rowScanner) error {
			f := &models.Feedback{}
			if err := scanFeedback(rows, f); err != nil {
				return fmt.Errorf("scan feedback: %w", err)
			}
			filed[idemKey{f.TesterID, *f.IdempotencyKey}] = f
			return nil
		})
	if err != nil {
		return err
	}
	changes, err := s.loadChanges(tx, changeIDs)
	if err != nil {
		return err
	}

	// The checks, in the order of createFeedbackTx.
	type accepted struct {
		job   *feedbackJob
		grant *writeGrant
	}
	var ok []accepted
	type retry struct {
		job *feedbackJob
		of  *models.Feedback // the item filed with its key
	}
	var retries []retry
	buildOf := map[int64]*models.Build{}
	for _, i := range idx {
		job := jobs[i].feedback
		in := &job.in
		g := grants[grantKey{in.BuildID, in.TesterID}]
		if g == nil {
			results[i] = problem(ErrNotFound, "Build not found.")
			continue
		}
		if in.IdempotencyKey != "" {
			if f := filed[idemKey{in.TesterID, in.IdempotencyKey}]; f != nil {
				retries = append(retries, retry{job, f})
				continue
			}
		}
		if err := s.refuseClosed(&g.build); err != nil {
			results[i] = err
			continue
		}
		if in.ChangeID != nil {
			if c := changes[*in.ChangeID]; c == nil || c.BuildID != in.BuildID {
				results[i] = Invalid(map[string]string{"change_id": "is not a change of this build"})
				continue
			}
		}
		fb := &models.Feedback{BuildID: in.BuildID, ChangeID: in.ChangeID, TesterID: in.TesterID, Kind: in.Kind, Severity: in.Severity,
			Title: in.Title, Body: in.Body, Platform: in.Platform, Status: "new", CreatedAt: now, UpdatedAt: now}
		if in.IdempotencyKey != "" {
			fb.IdempotencyKey = &in.IdempotencyKey
			// A retry within the same batch gets the first one's item.
			filed[idemKey{in.TesterID, in.IdempotencyKey}] = fb
		}
		job.fb, job.created = fb, true
		buildOf[g.build.ID] = &g.build
		ok = append(ok, accepted{job, g})
	}
	ids, err := s.newIDs(tx, "feedback", len(ok))
	if err != nil {
		return err
	}
	for n, a := range ok {
		a.job.fb.ID = ids[n]
	}
	for _, r := range retries {
		copied := *r.of
		r.job.fb, r.job.created = &copied, false
	}
	if len(ok) == 0 {
		return nil
	}

	rows := make([]any, 0, 15*len(ok))
	builds := map[int64]*buildCounts{}
	open := map[int64]*buildCounts{} // open bugs by change
	grantAdds := map[int64]int{}
	e := &batchEffects{s: s, now: now}
	for _, a := range ok {
		fb := a.job.fb
		rows = append(rows, fb.ID, fb.BuildID, fb.ChangeID, fb.TesterID, fb.Kind, fb.Severity, fb.Title, fb.Body, fb.Platform.OS,
			fb.Platform.Device, fb.Platform.ClientVersion, fb.Status, fb.IdempotencyKey, now, now)
		bc := builds[fb.BuildID]
		if bc == nil {
			bc = &buildCounts{}
			builds[fb.BuildID] = bc
		}
		bc.feedback++
		grantAdds[a.grant.id]++
		if fb.Kind == models.KindBug {
			bc.addBug(*fb.Severity, 1)
			if fb.ChangeID != nil {
				oc := open[*fb.ChangeID]
				if oc == nil {
					oc = &buildCounts{}
					open[*fb.ChangeID] = oc
				}
				oc.addBug(*fb.Severity, 1)
			}
		}
		if err := e.event(fb.BuildID, "feedback", feedbackEvent{fb.BuildID, fb.ChangeID, fb.ID, fb.Kind, fb.Severity, fb.Status}); err != nil {
			return err
		}
		if err := e.auditEntry(fb.TesterID, actionFeedbackCreated, "feedback", fb.ID, feedbackAudit{fb.BuildID, fb.Kind}); err != nil {
			return err
		}
	}
	err = s.execRows(tx, `INSERT INTO feedback (id, build_id, change_id, tester_id, kind, severity, title, body, platform_os, platform_device,
		platform_client_version, status, idempotency_key, created_at, updated_at) `+rowsMark, 15, rows)
	if err != nil {
		return err
	}
	day := now.Format("2006-01-02")
	for bid, c := range builds {
		err := s.exec(tx, `UPDATE builds SET feedback_count = feedback_count + ?, bugs_low = bugs_low + ?, bugs_medium = bugs_medium + ?,
			bugs_high = bugs_high + ?, bugs_critical = bugs_critical + ? WHERE id = ?`, c.feedback, c.low, c.medium, c.high, c.critical, bid)
		if err != nil {
			return err
		}
		err = s.exec(tx, `INSERT INTO feedback_days (build_id, day, feedback) VALUES (?, ?, ?)
			ON CONFLICT (build_id, day) DO UPDATE SET feedback = feedback_days.feedback + excluded.feedback`, bid, day, c.feedback)
		if err != nil {
			return err
		}
	}
	args := make([]any, 0, 5*len(open))
	for cid, c := range open {
		args = append(args, cid, c.low, c.medium, c.high, c.critical)
	}
	err = s.execRows(tx, `UPDATE changes SET open_low = open_low + v.column2, open_medium = open_medium + v.column3,
		open_high = open_high + v.column4, open_critical = open_critical + v.column5 FROM (`+typedRows("bigint", "integer", "integer", "integer", "integer")+`) AS v WHERE changes.id = v.column1`, 5, args)
	if err != nil {
		return err
	}
	if err := s.bumpGrants(tx, "feedback_count", grantAdds, now); err != nil {
		return err
	}
	for cid, c := range open {
		before := changes[cid]
		after := *before
		after.OpenLow += c.low
		after.OpenMedium += c.medium
		after.OpenHigh += c.high
		after.OpenCritical += c.critical
		if err := e.reflag(tx, buildOf[before.BuildID], before, &after); err != nil {
			return err
		}
	}
	for _, a := range ok {
		if fb := a.job.fb; fb.Kind == models.KindBug && *fb.Severity == models.SeverityCritical {
			var key string
			if fb.ChangeID != nil {
				key = changes[*fb.ChangeID].Key
			}
			if err := e.hook(tx, &a.grant.build, models.EventFeedbackCritical, map[string]any{"feedback_id": fb.ID, "title": fb.Title,
				"change_id": fb.ChangeID, "change_key": key}); err != nil {
				return err
			}
		}
	}
	return e.flush(tx)
}

type voteKey struct{ change, tester int64 }

// voteEvent and voteAudit are the stream and audit documents of a vote.
type voteEvent struct {
	BuildID  int64 `json:"build_id"`
	ChangeID int64 `json:"change_id"`
}

type voteAudit struct {
	Vote string `json:"vote"`
}

// ingestVotes records the votes of jobs idx, set-based; the last vote of a
// tester on a change counts.
func (s *Store) ingestVotes(tx *gorm.DB, jobs []*writeJob, results []error, idx []int) error {
	now := s.now()
	changeIDs := map[int64]struct{}{}
	for _, i := range idx {
		changeIDs[jobs[i].vote.changeID] = struct{}{}
	}
	changes, err := s.loadChanges(tx, changeIDs)
	if err != nil {
		return err
	}
	pairs := map[grantKey]struct{}{}
	var voteArgs []any
	for _, i := range idx {
		j := jobs[i].vote
		if c := changes[j.changeID]; c != nil {
			pairs[grantKey{c.BuildID, j.testerID}] = struct{}{}
			voteArgs = append(voteArgs, j.changeID, j.testerID)
		}
	}
	grants, err := s.batch.cache.load(s, tx, pairs)
	if err != nil {
		return err
	}
	cast := map[voteKey]*models.Vote{} // the current vote of each pair
	err = s.queryRows(tx, `SELECT id, change_id, build_id, tester_id, vote, comment, created_at, updated_at FROM votes
		WHERE (change_id, tester_id) IN (`+typedRows("bigint", "bigint")+`)`, 2, voteArgs, func(rows rowScanner) error {
		v := &models.Vote{}
		if err := rows.Scan(&v.ID, &v.ChangeID, &v.BuildID, &v.TesterID, &v.Vote, &v.Comment, &v.CreatedAt, &v.UpdatedAt); err != nil {
			return fmt.Errorf("scan vote: %w", err)
		}
		cast[voteKey{v.ChangeID, v.TesterID}] = v
		return nil
	})
	if err != nil {
		return err
	}

	// The checks and the counts, in the order of castVoteTx.
	after := map[int64]*models.Change{}
	var voted []*models.Change // the changes voted on, in first-seen order
	buildOf := map[int64]*models.Build{}
	grantAdds := map[int64]int{}
	var written []voteKey // pairs to write, in first-seen order
	touched := map[voteKey]bool{}
	e := &batchEffects{s: s, now: now}
	for _, i := range idx {
		j := jobs[i].vote
		c := changes[j.changeID]
		if c == nil {
			results[i] = problem(ErrNotFound, "Change not found.")
			continue
		}
		g := grants[grantKey{c.BuildID, j.testerID}]
		if g == nil {
			results[i] = problem(ErrNotFound, "Change not found.")
			continue
		}
		if err := s.refuseClosed(&g.build); err != nil {
			results[i] = err
			continue
		}
		a := after[c.ID]
		if a == nil {
			copied := *c
			a = &copied
			after[c.ID] = a
			voted = append(voted, c)
			buildOf[c.BuildID] = &g.build
		}
		k := voteKey{c.ID, j.testerID}
		v := cast[k]
		if v == nil {
			v = &models.Vote{ChangeID: c.ID, BuildID: c.BuildID, TesterID: j.testerID, CreatedAt: now}
			cast[k] = v
			grantAdds[g.id]++
		} else {
			countVote(a, v.Vote, -1)
		}
		v.Vote, v.Comment, v.UpdatedAt = j.vote, j.comment, now
		countVote(a, j.vote, +1)
		if _, ok := grantAdds[g.id]; !ok {
			grantAdds[g.id] = 0 // last_active_at moves all the same
		}
		if !touched[k] {
			touched[k] = true
			written = append(written, k)
		}
		copied := *v
		j.v = &copied
		if err := e.auditEntry(j.testerID, "vote.cast", "change", c.ID, voteAudit{j.vote}); err != nil {
			return err
		}
	}
	if len(written) == 0 {
		return nil
	}
	// One stream event per change whose votes moved, as a vote in a
	// commit of its own sends: the stream tells readers to reload, and
	// thirty votes on a change in one batch need one reload.
	for _, c := range voted {
		if err := e.event(c.BuildID, "vote", voteEvent{c.BuildID, c.ID}); err != nil {
			return err
		}
	}

	rows := make([]any, 0, 7*len(written))
	for _, k := range written {
		v := cast[k]
		rows = append(rows, v.ChangeID, v.BuildID, v.TesterID, v.Vote, v.Comment, v.CreatedAt, v.UpdatedAt)
	}
	err = s.execRows(tx, "INSERT INTO votes (change_id, build_id, tester_id, vote, comment, created_at, updated_at) "+rowsMark+
		" ON CONFLICT (change_id, tester_id) DO UPDATE SET vote = excluded.vote, comment = excluded.comment, updated_at = excluded.updated_at", 7, rows)
	if err != nil {
		return err
	}
	args := make([]any, 0, 3*len(after))
	for id, a := range after {
		c := changes[id]
		args = append(args, id, a.KeepVotes-c.KeepVotes, a.RevertVotes-c.RevertVotes)
	}
	err = s.execRows(tx, `UPDATE changes SET keep_votes = keep_votes + v.column2, revert_votes = revert_votes + v.column3 FROM (`+typedRows("bigint", "integer", "integer")+
		`) AS v WHERE changes.id = v.column1`, 3, args)
	if err != nil {
		return err
	}
	if err := s.bumpGrants(tx, "vote_count", grantAdds, now); err != nil {
		return err
	}
	for id, a := range after {
		if err := e.reflag(tx, buildOf[a.BuildID], changes[id], a); err != nil {
			return err
		}
	}
	return e.flush(tx)
}

// countVote moves a change's vote count.
func countVote(c *models.Change, vote string, delta int) {
	if vote == models.VoteRevert {
		c.RevertVotes += delta
	} else {
		c.KeepVotes += delta
	}
}
