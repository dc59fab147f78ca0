package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// ErasedText replaces erased titles, bodies and comments.
const ErasedText = "[erased at the tester's request]"

// EraseUser removes a person's personal data in one transaction: the
// account keeps only an anonymous shell (so votes and feedback still count
// and reports stay true), feedback and comment text is replaced, attachments
// are deleted, sessions end, and their email is scrubbed from invites and
// the audit log. Attachment files are removed after the commit.
func (s *Store) EraseUser(ctx context.Context, actor, id int64) error {
	if actor == id {
		return problem(ErrConflict, "You cannot erase your own account.")
	}
	var files []string
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var u models.User
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err, "User")
		}
		now := s.now()
		email := u.Email // Updates below rewrites u
		anon := fmt.Sprintf("erased-%d@erased.invalid", u.ID)
		if err := tx.Model(&u).Updates(map[string]any{"email": anon, "name": "Erased user", "disabled": true, "password_hash": "!erased"}).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", id).Update("revoked_at", now).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.Vote{}).Where("tester_id = ?", id).Update("comment", "").Error; err != nil {
			return err
		}
		var fbIDs []int64
		if err := tx.Model(&models.Feedback{}).Where("tester_id = ?", id).Pluck("id", &fbIDs).Error; err != nil {
			return err
		}
		if len(fbIDs) > 0 {
			if err := tx.Model(&models.Feedback{}).Where("id IN ?", fbIDs).Updates(map[string]any{"title": ErasedText, "body": "",
				"platform_os": "", "platform_device": "", "platform_client_version": "", "attachment_count": 0, "idempotency_key": nil}).Error; err != nil {
				return err
			}
			var atts []models.Attachment
			if err := tx.Where("feedback_id IN ?", fbIDs).Find(&atts).Error; err != nil {
				return err
			}
			for _, a := range atts {
				files = append(files, a.Path)
			}
			if err := tx.Where("feedback_id IN ?", fbIDs).Delete(&models.Attachment{}).Error; err != nil {
				return err
			}
		}
		if err := tx.Model(&models.Comment{}).Where("author_id = ?", id).Update("body", ErasedText).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.Invite{}).Where("email = ?", email).Update("email", anon).Error; err != nil {
			return err
		}
		if err := tx.Where("email = ?", email).Delete(&models.LoginFailure{}).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE audit_events SET detail = REPLACE(detail, ?, ?) WHERE detail LIKE ? ESCAPE '\'`, email, anon, "%"+escapeLike(email)+"%").Error; err != nil {
			return err
		}
		return s.audit(tx, &actor, "user.erased", "user", id, map[string]any{"feedback": len(fbIDs), "attachments": len(files)})
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := os.Remove(filepath.Join(s.DataDir, f)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("erase attachment file: %w", err)
		}
	}
	return nil
}

// PruneAttachments deletes the attachments of builds that left production
// (superseded or rolled back) more than age ago, files included, and
// tells how many it removed.
func (s *Store) PruneAttachments(ctx context.Context, age time.Duration) (int, error) {
	cutoff := s.now().Add(-age)
	var atts []models.Attachment
	err := s.tx(ctx, func(tx *gorm.DB) error {
		q := `SELECT a.* FROM attachments a JOIN feedback f ON f.id = a.feedback_id JOIN builds b ON b.id = f.build_id
			WHERE (b.stage = 'superseded' AND EXISTS (SELECT 1 FROM builds n WHERE n.replaced_build_id = b.id AND n.promoted_at < ?))
			OR (b.stage = 'rolled_back' AND b.promoted_at < ?)`
		if err := tx.Raw(q, cutoff, cutoff).Scan(&atts).Error; err != nil {
			return err
		}
		for _, a := range atts {
			if err := tx.Delete(&models.Attachment{}, a.ID).Error; err != nil {
				return err
			}
			if err := tx.Model(&models.Feedback{}).Where("id = ?", a.FeedbackID).Update("attachment_count", gorm.Expr("attachment_count - 1")).Error; err != nil {
				return err
			}
		}
		if len(atts) == 0 {
			return nil
		}
		return s.audit(tx, nil, "attachments.pruned", "attachment", 0, map[string]any{"count": len(atts), "older_than_days": int(age.Hours() / 24)})
	})
	if err != nil {
		return 0, err
	}
	for _, a := range atts {
		if err := os.Remove(filepath.Join(s.DataDir, a.Path)); err != nil && !os.IsNotExist(err) {
			return len(atts), err
		}
	}
	return len(atts), nil
}
