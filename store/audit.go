package store

import (
	"context"
	"encoding/json"

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

// Audit lists events newest first.
func (s *Store) Audit(ctx context.Context, f AuditFilter) ([]models.AuditEvent, string, error) {
	q := s.read(ctx).Model(&models.AuditEvent{})
	if f.SubjectType != "" {
		q = q.Where("subject_type = ?", f.SubjectType)
	}
	if f.SubjectID != nil {
		q = q.Where("subject_id = ?", *f.SubjectID)
	}
	if f.ActorID != nil {
		q = q.Where("actor_id = ?", *f.ActorID)
	}
	var out []models.AuditEvent
	next, err := keyset(q, f.Page, &out, func(i int) int64 { return out[i].ID })
	return out, next, err
}
