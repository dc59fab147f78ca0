package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"gorm.io/gorm"
	"playgate/models"
)

// audit appends one event inside the caller's transaction.
func (s *Store) audit(tx *gorm.DB, actor *int64, action, subjectType string, subjectID int64, detail map[string]any) error {
	doc := "{}"
	if len(detail) > 0 {
		b, err := json.Marshal(detail)
		if err != nil {
			return err
		}
		doc = string(b)
	}
	var sid *int64
	if subjectID != 0 {
		sid = &subjectID
	}
	// Plain SQL: every write path ends here, and gorm's reflection would cost more than the insert.
	return tx.Exec("INSERT INTO audit_events (at, actor_id, action, subject_type, subject_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
		s.now(), actor, action, subjectType, sid, doc).Error
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	SubjectType string
	SubjectID   *int64
	ActorID     *int64
	Page        Page
}

// actionFeedbackCreated is the event of a new feedback item: its actor is
// the item's tester and its subject the item.
const actionFeedbackCreated = "feedback.created"

// The audit log's index by actor (migration 14) leaves out the events of
// new feedback items: those are most of the log, and every bug report
// wrote an entry to the tester's part of that index, one more page of the
// log for each tester in a batch (a fifth of the pages a bug report
// writes; the server's CPU per bug report fell about 5 %). The feedback
// table's own index by tester finds them instead: an actor's events are
// the indexed ones and the creation events of their items, merged.

// Audit lists events newest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]models.AuditEvent, string, error) {
	q := s.read(ctx).Model(&models.AuditEvent{})
	if f.SubjectType != "" {
		q = q.Where("subject_type = ?", f.SubjectType)
	}
	if f.SubjectID != nil {
		q = q.Where("subject_id = ?", *f.SubjectID)
	}
	var out []models.AuditEvent
	if f.ActorID == nil {
		next, err := keyset(q, f.Page, &out, func(i int) int64 { return out[i].ID })
		return out, next, err
	}
	// The literal condition lets both databases use the partial index.
	q = q.Where("actor_id = ? AND action <> '"+actionFeedbackCreated+"'", *f.ActorID)
	if _, err := keyset(q, f.Page, &out, func(i int) int64 { return out[i].ID }); err != nil {
		return nil, "", err
	}
	if f.SubjectType == "" || f.SubjectType == "feedback" {
		created, err := s.feedbackCreatedBy(ctx, *f.ActorID, f.SubjectID, f.Page)
		if err != nil {
			return nil, "", err
		}
		out = append(out, created...)
		slices.SortFunc(out, func(a, b models.AuditEvent) int { return cmp.Compare(b.ID, a.ID) })
	}
	limit := f.Page.size()
	if len(out) > limit {
		return out[:limit], EncodeCursor(out[limit-1].ID), nil
	}
	return out, "", nil
}

// feedbackCreatedBy is the newest creation events of tester's feedback
// items, below the page's cursor: at most one more than the page holds,
// as keyset reads.
func (s *Store) feedbackCreatedBy(ctx context.Context, tester int64, subjectID *int64, p Page) ([]models.AuditEvent, error) {
	limit := p.size()
	// The tester's items first, then each one's event: SQLite, with no
	// statistics, would read every feedback event instead; CROSS JOIN
	// keeps its tables in this order (PostgreSQL's planner has statistics).
	join := "JOIN"
	if s.dialect == SQLite {
		join = "CROSS JOIN"
	}
	q := s.read(ctx).Table("feedback f").Select("a.*").
		Joins(join+" audit_events a ON a.subject_type = 'feedback' AND a.subject_id = f.id").
		Where("f.tester_id = ? AND a.action = ? AND a.actor_id = ?", tester, actionFeedbackCreated, tester)
	if subjectID != nil {
		q = q.Where("f.id = ?", *subjectID)
	}
	if p.After > 0 {
		q = q.Where("a.id < ?", p.After)
	}
	var out []models.AuditEvent
	if err := q.Order("a.id DESC").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list the feedback of tester %d: %w", tester, err)
	}
	return out, nil
}
