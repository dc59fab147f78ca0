package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// testerWrite opens a tester's write: it locks and checks the grant, so a
// revoked tester cannot slip a write in, and reads what the write needs of
// the build (callers refuse closed builds with refuseClosed).
// what names the subject in the not-found message.
func (s *Store) testerWrite(tx *gorm.DB, buildID, testerID int64, what string) (*models.Build, *models.Grant, error) {
	// One query for the grant and what the write needs of the build.
	var row struct {
		GrantID  int64
		ClosesAt *time.Time
		models.Policy
	}
	err := tx.Raw(`SELECT g.id AS grant_id, b.closes_at, b.policy_min_votes AS min_votes, b.policy_revert_threshold AS revert_threshold,
		b.policy_confidence AS confidence, b.policy_block_severity AS block_severity
		FROM grants g JOIN builds b ON b.id = g.build_id WHERE g.build_id = ? AND g.user_id = ? AND g.revoked_at IS NULL`, buildID, testerID).Scan(&row).Error
	if err != nil {
		return nil, nil, err
	}
	if row.GrantID == 0 {
		return nil, nil, problem(ErrNotFound, "%s not found.", what)
	}
	g := &models.Grant{ID: row.GrantID, BuildID: buildID, UserID: testerID}
	if s.dialect == Postgres {
		if err := s.lockRow(tx, "grants", g.ID); err != nil {
			return nil, nil, err
		}
		// A revocation may have committed while we waited for the lock.
		var revoked int64
		if err := tx.Model(&models.Grant{}).Where("id = ? AND revoked_at IS NOT NULL", g.ID).Count(&revoked).Error; err != nil {
			return nil, nil, err
		}
		if revoked > 0 {
			return nil, nil, problem(ErrNotFound, "%s not found.", what)
		}
	}
	return &models.Build{ID: buildID, ClosesAt: row.ClosesAt, Policy: row.Policy}, g, nil
}

// refuseClosed is ErrConflict once the build no longer takes votes or feedback.
func (s *Store) refuseClosed(b *models.Build) error {
	if b.Closed(s.now()) {
		return problem(ErrConflict, "This build closed for feedback on %s.", b.ClosesAt.Format("2006-01-02 15:04 MST"))
	}
	return nil
}

// CastVote records a tester's vote on a change; the last vote counts.
func (s *Store) CastVote(ctx context.Context, testerID, changeID int64, vote, comment string) (*models.Vote, error) {
	job := &voteJob{testerID: testerID, changeID: changeID, vote: vote, comment: comment}
	if err := s.ingest(ctx, &writeJob{vote: job, fn: func(tx *gorm.DB) error { return s.castVoteTx(tx, job) }}); err != nil {
		return nil, err
	}
	return job.v, nil
}

// castVoteTx records one vote: the path of a batch whose set-based run
// (ingest.go) failed, on either database, and the reference the tests hold
// that run to.
func (s *Store) castVoteTx(tx *gorm.DB, job *voteJob) error {
	testerID, changeID, vote, comment := job.testerID, job.changeID, job.vote, job.comment
	var v models.Vote
	err := func() error {
		var c models.Change
		if err := tx.First(&c, changeID).Error; err != nil {
			return notFound(err, "Change")
		}
		b, g, err := s.testerWrite(tx, c.BuildID, testerID, "Change")
		if err != nil {
			return err
		}
		if err := s.refuseClosed(b); err != nil {
			return err
		}
		now := s.now()
		err = tx.Where("change_id = ? AND tester_id = ?", changeID, testerID).First(&v).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			v = models.Vote{ChangeID: changeID, BuildID: c.BuildID, TesterID: testerID, Vote: vote, Comment: comment, CreatedAt: now, UpdatedAt: now}
			if err := tx.Create(&v).Error; err != nil {
				return err
			}
			if err := tx.Model(g).Updates(map[string]any{"vote_count": gorm.Expr("vote_count + 1"), "last_active_at": now}).Error; err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := bumpVote(tx, changeID, v.Vote, -1); err != nil {
				return err
			}
			if err := tx.Model(&v).Updates(map[string]any{"vote": vote, "comment": comment, "updated_at": now}).Error; err != nil {
				return err
			}
			if err := tx.Model(g).Update("last_active_at", now).Error; err != nil {
				return err
			}
		}
		if err := bumpVote(tx, changeID, vote, +1); err != nil {
			return err
		}
		if err := s.emit(tx, c.BuildID, "vote", map[string]any{"change_id": changeID}); err != nil {
			return err
		}
		if err := s.reflag(tx, b.Policy, &c); err != nil {
			return err
		}
		return s.audit(tx, &testerID, "vote.cast", "change", changeID, map[string]any{"vote": vote})
	}()
	if err != nil {
		return err
	}
	job.v = &v
	return nil
}

// NewFeedback is a tester's submission.
type NewFeedback struct {
	BuildID        int64
	TesterID       int64
	ChangeID       *int64
	Kind           string
	Severity       *string
	Title, Body    string
	Platform       models.Platform
	IdempotencyKey string
}

// CreateFeedback stores a tester's feedback and moves the aggregates. With
// an idempotency key already used by this tester, it returns the first item
// and created=false instead of a copy.
func (s *Store) CreateFeedback(ctx context.Context, in NewFeedback) (*models.Feedback, bool, error) {
	job := &feedbackJob{in: in}
	if err := s.ingest(ctx, &writeJob{feedback: job, fn: func(tx *gorm.DB) error { return s.createFeedbackTx(tx, job) }}); err != nil {
		return nil, false, err
	}
	return job.fb, job.created, nil
}

// createFeedbackTx files one item: the path of a batch whose set-based run
// (ingest.go) failed, on either database, and the reference the tests hold
// that run to.
func (s *Store) createFeedbackTx(tx *gorm.DB, job *feedbackJob) error {
	in := job.in
	fb := &models.Feedback{}
	created := false
	err := func() error {
		// The grant first: a revoked tester is refused even a retry. On
		// PostgreSQL testerWrite locks the grant row, so retries racing
		// each other take turns and the later finds the first one's item.
		b, g, err := s.testerWrite(tx, in.BuildID, in.TesterID, "Build")
		if err != nil {
			return err
		}
		if in.IdempotencyKey != "" {
			err := tx.Where("tester_id = ? AND idempotency_key = ?", in.TesterID, in.IdempotencyKey).First(fb).Error
			if err == nil {
				return nil
			}
			if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
		}
		// After the key lookup: a retry of an item filed before the build
		// closed still gets that item back.
		if err := s.refuseClosed(b); err != nil {
			return err
		}
		var before models.Change
		if in.ChangeID != nil {
			err := tx.Where("id = ? AND build_id = ?", *in.ChangeID, in.BuildID).First(&before).Error
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return Invalid(map[string]string{"change_id": "is not a change of this build"})
			}
			if err != nil {
				return err
			}
		}
		now := s.now()
		*fb = models.Feedback{BuildID: in.BuildID, ChangeID: in.ChangeID, TesterID: in.TesterID, Kind: in.Kind, Severity: in.Severity,
			Title: in.Title, Body: in.Body, Platform: in.Platform, Status: "new", CreatedAt: now, UpdatedAt: now}
		if in.IdempotencyKey != "" {
			fb.IdempotencyKey = &in.IdempotencyKey
		}
		// Plain SQL on the hottest insert: no reflection.
		err = tx.Raw(`INSERT INTO feedback (build_id, change_id, tester_id, kind, severity, title, body, platform_os, platform_device,
			platform_client_version, status, idempotency_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			fb.BuildID, fb.ChangeID, fb.TesterID, fb.Kind, fb.Severity, fb.Title, fb.Body, fb.Platform.OS, fb.Platform.Device,
			fb.Platform.ClientVersion, fb.Status, fb.IdempotencyKey, fb.CreatedAt, fb.UpdatedAt).Scan(&fb.ID).Error
		if err != nil {
			return err
		}
		created = true
		build := map[string]any{"feedback_count": gorm.Expr("feedback_count + 1")}
		if fb.Kind == models.KindBug {
			col := "bugs_" + *fb.Severity
			build[col] = gorm.Expr(col + " + 1")
			if err := bumpOpenBug(tx, fb, +1); err != nil {
				return err
			}
		}
		if err := tx.Model(&models.Build{}).Where("id = ?", fb.BuildID).Updates(build).Error; err != nil {
			return err
		}
		if err := tx.Model(g).Updates(map[string]any{"feedback_count": gorm.Expr("feedback_count + 1"), "last_active_at": now}).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO feedback_days (build_id, day, feedback) VALUES (?, ?, 1)
			ON CONFLICT (build_id, day) DO UPDATE SET feedback = feedback_days.feedback + 1`, fb.BuildID, now.Format("2006-01-02")).Error; err != nil {
			return err
		}
		if err := s.emitFeedback(tx, b.Policy, fb, &before); err != nil {
			return err
		}
		if fb.Kind == models.KindBug && *fb.Severity == models.SeverityCritical {
			if err := s.hook(tx, fb.BuildID, models.EventFeedbackCritical, map[string]any{"feedback_id": fb.ID, "title": fb.Title,
				"change_id": fb.ChangeID, "change_key": before.Key}); err != nil {
				return err
			}
		}
		return s.audit(tx, &in.TesterID, actionFeedbackCreated, "feedback", fb.ID, map[string]any{"build_id": fb.BuildID, "kind": fb.Kind})
	}()
	if err != nil {
		return err
	}
	job.fb, job.created = fb, created
	return nil
}

// emitFeedback reports a new or triaged item on the build's stream, and a
// flag event when it moved its change across the rollback rule.
func (s *Store) emitFeedback(tx *gorm.DB, policy models.Policy, fb *models.Feedback, before *models.Change) error {
	if err := s.emit(tx, fb.BuildID, "feedback", map[string]any{"feedback_id": fb.ID, "kind": fb.Kind,
		"severity": fb.Severity, "status": fb.Status, "change_id": fb.ChangeID}); err != nil {
		return err
	}
	if before.ID == 0 || fb.Kind != models.KindBug {
		return nil // only bugs move a change's flag
	}
	return s.reflag(tx, policy, before)
}

func bumpDuplicates(tx *gorm.DB, id int64, delta int) error {
	return tx.Model(&models.Feedback{}).Where("id = ?", id).Update("duplicates", gorm.Expr("duplicates + ?", delta)).Error
}

// bumpOpenBug moves a change's open-bug count for an open bug with a change.
func bumpOpenBug(tx *gorm.DB, fb *models.Feedback, delta int) error {
	if fb.Kind != models.KindBug || fb.ChangeID == nil || fb.Severity == nil || !models.Open(fb.Status) {
		return nil
	}
	col := "open_" + *fb.Severity
	return tx.Model(&models.Change{}).Where("id = ?", *fb.ChangeID).Update(col, gorm.Expr(col+" + ?", delta)).Error
}

// Similar is an existing item whose title resembles a new one.
type Similar struct {
	ID    int64   `json:"id"`
	Title string  `json:"title"`
	Score float64 `json:"score"`
}

// similarWindow is how many of the newest items (of all builds) are
// searched for a look-alike title: enough to catch the duplicates a
// playtest produces, and a bounded cost per bug however large the data.
const similarWindow = 20000

// SimilarFeedback finds up to 5 recent items of a build whose titles share
// words with title, best first (by the Jaccard index of their words);
// exclude skips one item (the one just filed). The full-text index finds
// the candidates, so the cost follows the matches, not the build's size.
func (s *Store) SimilarFeedback(ctx context.Context, buildID int64, title string, exclude int64) ([]Similar, error) {
	words := models.TitleWords(title)
	out := []Similar{}
	if len(words) == 0 {
		return out, nil
	}
	if err := s.ftsReady(ctx); err != nil {
		return nil, err
	}
	query, match := s.similarQuery(words)
	rows, err := s.read(ctx).Raw(query, match, similarWindow, buildID, exclude, models.StatusDuplicate).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var r Similar
		if err := rows.Scan(&r.ID, &r.Title); err != nil {
			return nil, err
		}
		if score := models.TitleSimilarity(words, models.TitleWords(r.Title)); score >= 0.2 {
			r.Score = math.Round(score*100) / 100
			out = append(out, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	if len(out) > 5 {
		out = out[:5]
	}
	return out, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// FeedbackFilter narrows a build's feedback list.
type FeedbackFilter struct {
	BuildID  int64
	TesterID *int64
	Kind     string
	Severity string
	Status   string
	ChangeID *int64
	Q        string
	Page     Page
}

// ListFeedback lists a build's feedback newest first.
func (s *Store) ListFeedback(ctx context.Context, f FeedbackFilter) ([]models.Feedback, string, error) {
	if f.Severity != "" && f.Kind != "" && f.Kind != models.KindBug {
		// Only bugs have a severity: nothing can match, and at a million
		// items an index would walk every item of the kind to find that out.
		return []models.Feedback{}, "", nil
	}
	filter := s.itemFilter(f)
	q := s.read(ctx).Table("feedback").Select("feedback.*, users.name AS tester_name").
		Joins("JOIN users ON users.id = feedback.tester_id").Where(filter.cond, filter.args...)
	limit := f.Page.size()
	page := func(q *gorm.DB) ([]models.Feedback, error) {
		var out []models.Feedback
		err := q.Order("feedback.id DESC").Limit(limit + 1).Find(&out).Error
		return out, err
	}
	var out []models.Feedback
	var err error
	if strings.TrimSpace(f.Q) == "" {
		out, err = page(q)
	} else {
		words := searchWords(f.Q, 1, 8)
		if len(words) == 0 {
			return []models.Feedback{}, "", nil // nothing searchable can match
		}
		out, err = s.searchPage(ctx, q.Session(&gorm.Session{}), filter, words, limit, page)
	}
	if err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		return out, EncodeCursor(out[limit-1].ID), nil
	}
	return out, "", nil
}

// itemFilter is the condition on feedback's columns a list's items pass,
// with its arguments.
type itemFilter struct {
	cond string
	args []any
	// tags are the words of the full-text index's tags column its items
	// hold (see searchTags): of its kind, status and severity.
	tags []string
}

// itemFilter is the condition of f's filters, without the search.
//
// With a change, its items are walked through the index by change: a
// change is one of a build's many, so its items are few beside those of a
// kind, severity or status, which SQLite (without statistics) would pick
// for matching two columns of an index (build and value): a change's
// won't-fix items at a million took 46 ms through the index by status. A
// unary + keeps SQLite from using an index for a term; PostgreSQL keeps
// statistics, and has no unary + for text.
func (s *Store) itemFilter(f FeedbackFilter) itemFilter {
	conds, args := []string{"feedback.build_id = ?"}, []any{f.BuildID}
	var tags []string
	where := func(cond string, arg any, tag string) {
		conds, args = append(conds, cond), append(args, arg)
		if tag != "" {
			tags = append(tags, tag)
		}
	}
	value := "feedback."
	if f.ChangeID != nil && s.dialect == SQLite {
		value = "+feedback."
	}
	if f.TesterID != nil {
		where("feedback.tester_id = ?", *f.TesterID, "")
	}
	if f.Kind != "" {
		where(value+"kind = ?", f.Kind, kindTag(f.Kind))
	}
	if f.Severity != "" {
		where(value+"severity = ?", f.Severity, severityTag(f.Severity))
	}
	if f.Status != "" {
		where(value+"status = ?", f.Status, statusTag(f.Status))
	}
	if f.ChangeID != nil {
		where("feedback.change_id = ?", *f.ChangeID, "")
	}
	if f.Page.After > 0 {
		where("feedback.id < ?", f.Page.After, "")
	}
	return itemFilter{strings.Join(conds, " AND "), args, tags}
}

// searchPage reads a page of q's items that match words; filter is q's
// condition without the tester's name. On SQLite a common word matches a
// large part of a big build, and a search that gathers every match and
// then sorts the build's matches took up to a second at a million items;
// so it first tries two bounded ways, each of which gives the page a
// search of every match gives when it finds one:
//
//   - The newest searchWindow matches from the newest item q lets through
//     down: when those fill the page, or are all the matches there are,
//     the page is among them.
//   - The newest searchProbes items q lets through, each probed in the
//     full-text index (FTS5 seeks its words to that item): when those fill
//     the page, or are all the items q lets through, the page is among
//     them. This finds a common word with a filter few items pass.
//
// Otherwise (many items pass q, few of them match, and many items match)
// it goes through every match, merged with q's items or looked up.
func (s *Store) searchPage(ctx context.Context, q *gorm.DB, filter itemFilter, words []string, limit int,
	page func(*gorm.DB) ([]models.Feedback, error)) ([]models.Feedback, error) {
	var parts map[string]string
	if s.dialect == SQLite {
		if err := s.ftsReady(ctx); err != nil {
			return nil, err
		}
		var none bool
		var err error
		if parts, none, err = s.expandPrefixes(ctx, words); err != nil || none {
			return []models.Feedback{}, err
		}
	}
	cond, match := s.fullText(words, parts)
	if s.dialect != SQLite {
		return page(q.Where(cond, match))
	}
	// The matches hold the filter's tags: FTS5 skips what the filter does
	// not let through, which the conditions below then check again.
	if len(filter.tags) > 0 {
		match += " AND " + tagMatch(filter.tags)
	}
	var newest []int64 // the newest item q lets through
	if err := s.read(ctx).Raw("SELECT feedback.id FROM feedback WHERE "+filter.cond+" ORDER BY feedback.id DESC LIMIT 1", filter.args...).
		Scan(&newest).Error; err != nil || len(newest) == 0 {
		return []models.Feedback{}, err
	}
	// The window's matches are read once, as a JSON array the page reads
	// back: a match with a filter's tags that few items hold reads the
	// lists of its words and tags to their ends, its main cost.
	var w struct {
		IDs               string `gorm:"column:ids"`
		N, Oldest, Newest int64
	}
	if err := s.read(ctx).Raw(`SELECT json_group_array(rowid) AS ids, COUNT(*) AS n, COALESCE(MIN(rowid), 0) AS oldest, COALESCE(MAX(rowid), 0) AS newest
		FROM (SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ? AND rowid <= ? ORDER BY rowid DESC LIMIT ?)`, match, newest[0], searchWindow).
		Scan(&w).Error; err != nil || w.N == 0 {
		return []models.Feedback{}, err
	}
	out, err := page(q.Where("feedback.id IN (SELECT value FROM json_each(?))", w.IDs))
	if err != nil || len(out) > limit || w.N < searchWindow {
		return out, err
	}
	newestItems := func(n int) (span idSpan, err error) {
		err = s.read(ctx).Raw("SELECT COUNT(*) AS n, COALESCE(MIN(id), 0) AS oldest, COALESCE(MAX(id), 0) AS newest FROM (SELECT feedback.id AS id FROM feedback WHERE "+filter.cond+" ORDER BY feedback.id DESC LIMIT ?)",
			slices.Concat(filter.args, []any{n})...).Scan(&span).Error
		return span, err
	}
	items, err := newestItems(searchSample)
	if err != nil {
		return nil, err
	}
	ratio := perID(items) / perID(idSpan{w.N, w.Oldest, w.Newest}) // the filter's items to matches, among the newest ids
	// The probes cost a seek of each word (several µs) an item, but read no
	// match they do not ask for: they pay when the filter's items are much
	// fewer than the matches, as with a change's items. They are skipped
	// when those items are all newer than the window's oldest match: the
	// window saw every match among them, and they did not fill the page.
	if items.N < searchSample || ratio < searchCosts.probe {
		if items.N == searchSample {
			if items, err = newestItems(searchProbes); err != nil {
				return nil, err
			}
		}
		if items.N < searchProbes || items.Oldest < w.Oldest {
			probe := q.Where("EXISTS (SELECT 1 FROM feedback_fts WHERE feedback_fts MATCH ? AND rowid = feedback.id)", match)
			if items.N == searchProbes {
				probe = probe.Where("feedback.id >= ?", items.Oldest)
			}
			if out, err = page(probe); err != nil || len(out) > limit || items.N < searchProbes {
				return out, err
			}
		}
	}
	// Every match, one of two ways. Each can be looked up in the filter's
	// index (about 1 µs a match at a million items), or both lists read side
	// by side, newest first, from the filter's newest item down (about
	// 0.1 µs an item of either): SQLite runs a compound SELECT ordered by its
	// column as a merge of its two parts. The merge costs less unless the
	// filter lets through many more items than match. Both give the same
	// page. At a million items, a word in 35,589 items none of the 100,000
	// praise items hold (q=crash&kind=praise): 14 ms merged, 38 looked up.
	if ratio > searchCosts.lookup {
		return page(q.Where(cond, match))
	}
	merged := "feedback.id IN (SELECT id FROM (SELECT feedback.id AS id FROM feedback WHERE " + filter.cond + ")" +
		" INTERSECT SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH ? AND rowid <= ? ORDER BY 1 DESC LIMIT ?)"
	return page(q.Where(merged, slices.Concat(filter.args, []any{match, newest[0], limit + 1})...))
}

// idSpan is how many ids a query found, and the least and greatest.
type idSpan struct{ N, Oldest, Newest int64 }

// perID is how densely the span holds its ids.
func perID(s idSpan) float64 { return float64(s.N) / float64(s.Newest-s.Oldest+1) }

// searchCosts are the ratios of a search's filtered items to its matches
// (see searchPage) below which the probes are tried first, and above which
// every match is looked up rather than merged. Tests move them to take
// each way.
var searchCosts = struct{ probe, lookup float64 }{1.0 / 32, 8}

// searchWindow is how many of the newest matches searchPage looks at
// first, and searchProbes how many of the newest items it then probes.
const (
	searchWindow = 2000
	searchProbes = 2048
)

// searchSample is how many of the newest items a filter lets through
// searchPage reads to tell how densely they lie.
const searchSample = 256

// Feedback loads one item with its tester's name.
func (s *Store) Feedback(ctx context.Context, id int64) (*models.Feedback, error) {
	var fb models.Feedback
	err := s.read(ctx).Table("feedback").Select("feedback.*, users.name AS tester_name").
		Joins("JOIN users ON users.id = feedback.tester_id").Where("feedback.id = ?", id).Take(&fb).Error
	if err != nil {
		return nil, notFound(err, "Feedback")
	}
	return &fb, nil
}

// Comments lists an item's comments, oldest first.
func (s *Store) Comments(ctx context.Context, feedbackID int64) ([]models.Comment, error) {
	out := []models.Comment{}
	err := s.read(ctx).Table("comments").Select("comments.*, users.name AS author_name").
		Joins("JOIN users ON users.id = comments.author_id").Where("comments.feedback_id = ?", feedbackID).Order("comments.id").Find(&out).Error
	return out, err
}

// Attachments lists an item's attachments.
func (s *Store) Attachments(ctx context.Context, feedbackID int64) ([]models.Attachment, error) {
	out := []models.Attachment{}
	err := s.read(ctx).Where("feedback_id = ?", feedbackID).Order("id").Find(&out).Error
	return out, err
}

// SetFeedbackStatus triages an item. Marking it a duplicate of another item
// of the same build closes it, so it leaves the open-bug counts.
func (s *Store) SetFeedbackStatus(ctx context.Context, actor, id int64, status string, duplicateOf *int64) (*models.Feedback, error) {
	var fb models.Feedback
	err := s.tx(ctx, func(tx *gorm.DB) error {
		// Triagers racing on one item take turns, so each moves the
		// open-bug counts from the status the other one left (PostgreSQL).
		if err := s.lockRow(tx, "feedback", id); err != nil {
			return err
		}
		if err := tx.Omit("tester_name").First(&fb, id).Error; err != nil {
			return notFound(err, "Feedback")
		}
		if status == models.StatusDuplicate {
			if duplicateOf == nil {
				return Invalid(map[string]string{"duplicate_of": "is required when status is duplicate"})
			}
			var orig models.Feedback
			if err := tx.Omit("tester_name").First(&orig, *duplicateOf).Error; err != nil || orig.BuildID != fb.BuildID {
				return Invalid(map[string]string{"duplicate_of": "is not a feedback item of the same build"})
			}
			if orig.DuplicateOf != nil {
				// Fold into the original of the original: chains stay one deep.
				duplicateOf = orig.DuplicateOf
			}
			if *duplicateOf == fb.ID {
				return Invalid(map[string]string{"duplicate_of": "cannot be the item itself"})
			}
		} else if duplicateOf != nil {
			return Invalid(map[string]string{"duplicate_of": "is only allowed with status duplicate"})
		}
		var before models.Change
		if fb.ChangeID != nil {
			if err := tx.First(&before, *fb.ChangeID).Error; err != nil {
				return err
			}
		}
		if err := bumpOpenBug(tx, &fb, -1); err != nil {
			return err
		}
		if fb.DuplicateOf != nil { // unfold from the old original
			if err := bumpDuplicates(tx, *fb.DuplicateOf, -1); err != nil {
				return err
			}
		}
		fb.Status, fb.DuplicateOf, fb.UpdatedAt = status, duplicateOf, s.now()
		if err := bumpOpenBug(tx, &fb, +1); err != nil {
			return err
		}
		if duplicateOf != nil {
			// Fold this item, and the items folded into it, into the original.
			if err := bumpDuplicates(tx, *duplicateOf, 1+fb.Duplicates); err != nil {
				return err
			}
			if err := tx.Model(&models.Feedback{}).Where("duplicate_of = ?", fb.ID).Update("duplicate_of", *duplicateOf).Error; err != nil {
				return err
			}
			fb.Duplicates = 0
		}
		if err := tx.Model(&fb).Select("status", "duplicate_of", "duplicates", "updated_at").Updates(&fb).Error; err != nil {
			return err
		}
		policy, err := buildPolicy(tx, fb.BuildID)
		if err != nil {
			return err
		}
		if err := s.emitFeedback(tx, policy, &fb, &before); err != nil {
			return err
		}
		detail := map[string]any{"status": status}
		if duplicateOf != nil {
			detail["duplicate_of"] = *duplicateOf
		}
		return s.audit(tx, &actor, "feedback.triaged", "feedback", id, detail)
	})
	if err != nil {
		return nil, err
	}
	return s.Feedback(ctx, id)
}

// AddComment stores a comment; a staff comment marks a reply the tester sees.
func (s *Store) AddComment(ctx context.Context, c *models.Comment) error {
	c.CreatedAt = s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Omit("author_name").Create(c).Error; err != nil {
			return err
		}
		up := map[string]any{"comment_count": gorm.Expr("comment_count + 1")}
		if c.Staff {
			up["last_staff_reply_at"] = c.CreatedAt
		}
		if err := tx.Model(&models.Feedback{}).Where("id = ?", c.FeedbackID).Updates(up).Error; err != nil {
			return err
		}
		return s.audit(tx, &c.AuthorID, "comment.created", "feedback", c.FeedbackID, map[string]any{"comment_id": c.ID})
	})
}

// MaxAttachments is the most screenshots one feedback item may carry.
const MaxAttachments = 10

// AddAttachment records an attachment whose bytes are already stored at
// a.Path (relative to the data folder).
func (s *Store) AddAttachment(ctx context.Context, actor int64, a *models.Attachment) error {
	a.CreatedAt = s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		// Uploads racing each other take turns on the item's row, so the
		// count they check is never stale (PostgreSQL).
		if err := s.lockRow(tx, "feedback", a.FeedbackID); err != nil {
			return err
		}
		var fb models.Feedback
		if err := tx.Omit("tester_name").First(&fb, a.FeedbackID).Error; err != nil {
			return notFound(err, "Feedback")
		}
		if fb.AttachmentCount >= MaxAttachments {
			return problem(ErrConflict, "A feedback item can carry at most %d attachments.", MaxAttachments)
		}
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		if err := tx.Model(&fb).Update("attachment_count", gorm.Expr("attachment_count + 1")).Error; err != nil {
			return err
		}
		return s.audit(tx, &actor, "attachment.created", "feedback", a.FeedbackID, map[string]any{"attachment_id": a.ID, "size": a.Size})
	})
}

// Attachment loads one attachment's record.
func (s *Store) Attachment(ctx context.Context, id int64) (*models.Attachment, error) {
	var a models.Attachment
	if err := s.read(ctx).First(&a, id).Error; err != nil {
		return nil, notFound(err, "Attachment")
	}
	return &a, nil
}
