package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// CreateInvite stores an invite to a build and returns its token, which
// exists only in this answer: the database keeps its hash.
func (s *Store) CreateInvite(ctx context.Context, actor int64, buildID int64, email string, ttl time.Duration) (*models.Invite, string, error) {
	token := NewToken()
	inv := &models.Invite{BuildID: buildID, Email: NormalizeEmail(email), TokenHash: HashToken(token),
		ExpiresAt: s.now().Add(ttl), CreatedBy: actor, CreatedAt: s.now()}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(inv).Error; err != nil {
			return err
		}
		return s.audit(tx, &actor, "invite.created", "invite", inv.ID, map[string]any{"build_id": buildID, "email": inv.Email})
	})
	if err != nil {
		return nil, "", err
	}
	return inv, token, nil
}

// Invites lists a build's invites, newest first.
func (s *Store) Invites(ctx context.Context, buildID int64, p Page) ([]models.Invite, string, error) {
	var out []models.Invite
	next, err := keyset(s.read(ctx).Model(&models.Invite{}).Where("build_id = ?", buildID), p, &out, func(i int) int64 { return out[i].ID })
	return out, next, err
}

// Invite loads one invite.
func (s *Store) Invite(ctx context.Context, id int64) (*models.Invite, error) {
	var inv models.Invite
	if err := s.read(ctx).First(&inv, id).Error; err != nil {
		return nil, notFound(err, "Invite")
	}
	return &inv, nil
}

// RevokeInvite makes an unused invite's token stop working. A redeemed
// invite stays "redeemed" (its token is spent anyway): ending that
// tester's access is RevokeTester's job.
func (s *Store) RevokeInvite(ctx context.Context, actor, id int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var inv models.Invite
		if err := tx.First(&inv, id).Error; err != nil {
			return notFound(err, "Invite")
		}
		if inv.RedeemedAt != nil {
			return nil // spent already: its token works no more; the tester's access is revoked apart
		}
		res := tx.Model(&models.Invite{}).Where("id = ? AND revoked_at IS NULL AND redeemed_at IS NULL", id).Update("revoked_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return nil // already revoked: DELETE is idempotent
		}
		return s.audit(tx, &actor, "invite.revoked", "invite", id, nil)
	})
}

// Redemption is what a redeemed invite yields.
type Redemption struct {
	User      models.User
	BuildID   int64
	SessionID int64
	Refresh   string
}

// RedeemInvite spends an invite. A new email gets a tester account with
// name and password; an existing account must prove its password, and gains
// the grant. The slow password work happens before the write transaction, so
// it never holds the writer; the invite, account, grant and session are then
// written in one transaction.
func (s *Store) RedeemInvite(ctx context.Context, token, name, password string) (*Redemption, error) {
	var inv models.Invite
	if err := s.read(ctx).Where("token_hash = ?", HashToken(token)).First(&inv).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, problem(ErrNotFound, "This invite does not exist.")
		}
		return nil, err
	}
	if err := inviteUsable(&inv, s.now()); err != nil {
		return nil, err
	}
	existing, err := s.UserByEmail(ctx, inv.Email)
	var newHash string
	switch {
	case errors.Is(err, ErrNotFound):
		if name == "" {
			return nil, Invalid(map[string]string{"name": "is required for a new account"})
		}
		if newHash, err = models.HashPassword(password); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case existing.Disabled || !models.CheckPassword(existing.PasswordHash, password):
		return nil, problem(ErrUnauthorized, "This email already has an account: enter its password to accept the invite.")
	}

	var red Redemption
	err = s.tx(ctx, func(tx *gorm.DB) error {
		// Redeems racing for one invite take turns: the later ones then see
		// it redeemed (410) instead of colliding on the new account (PostgreSQL).
		if err := s.lockRow(tx, "invites", inv.ID); err != nil {
			return err
		}
		if err := tx.First(&inv, inv.ID).Error; err != nil {
			return err
		}
		if err := inviteUsable(&inv, s.now()); err != nil {
			return err
		}
		var u models.User
		if existing != nil {
			u = *existing
		} else {
			u = models.User{Email: inv.Email, Name: name, Role: models.RoleTester, PasswordHash: newHash}
			if err := s.createUser(tx, nil, &u); err != nil {
				return err
			}
		}
		res := tx.Model(&models.Invite{}).Where("id = ? AND redeemed_at IS NULL AND revoked_at IS NULL", inv.ID).
			Updates(map[string]any{"redeemed_at": s.now(), "redeemed_by": u.ID})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return problem(ErrGone, "This invite has already been used.")
		}
		if err := s.grant(tx, inv.BuildID, u.ID, &inv.ID); err != nil {
			return err
		}
		if err := s.audit(tx, &u.ID, "invite.redeemed", "invite", inv.ID, map[string]any{"build_id": inv.BuildID, "user_id": u.ID}); err != nil {
			return err
		}
		sid, refresh, err := s.startSession(tx, u.ID)
		if err != nil {
			return err
		}
		red = Redemption{User: u, BuildID: inv.BuildID, SessionID: sid, Refresh: refresh}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &red, nil
}

func inviteUsable(inv *models.Invite, now time.Time) error {
	switch inv.Status(now) {
	case "redeemed":
		return problem(ErrGone, "This invite has already been used.")
	case "expired":
		return problem(ErrGone, "This invite has expired: ask for a new one.")
	case "revoked":
		return problem(ErrGone, "This invite has been withdrawn.")
	}
	return nil
}

// grant gives a user access to a build, restoring a revoked grant (and the
// votes it carried) when there was one.
func (s *Store) grant(tx *gorm.DB, buildID, userID int64, inviteID *int64) error {
	var g models.Grant
	err := tx.Where("build_id = ? AND user_id = ?", buildID, userID).First(&g).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return tx.Create(&models.Grant{BuildID: buildID, UserID: userID, InviteID: inviteID, CreatedAt: s.now()}).Error
	}
	if err != nil || g.RevokedAt == nil {
		return err
	}
	if err := tx.Model(&g).Updates(map[string]any{"revoked_at": nil, "invite_id": inviteID}).Error; err != nil {
		return err
	}
	return s.moveTesterVotes(tx, buildID, userID, +1)
}

// ActiveGrant reports whether a tester may use a build right now.
func (s *Store) ActiveGrant(ctx context.Context, buildID, userID int64) (bool, error) {
	var n int64
	err := s.read(ctx).Model(&models.Grant{}).Where("build_id = ? AND user_id = ? AND revoked_at IS NULL", buildID, userID).Count(&n).Error
	return n > 0, err
}

// Tester is a granted tester of a build with their activity.
type Tester struct {
	UserID        int64      `json:"user_id"`
	Email         string     `json:"email"`
	Name          string     `json:"name"`
	GrantedAt     time.Time  `json:"granted_at"`
	FeedbackCount int        `json:"feedback_count"`
	VoteCount     int        `json:"vote_count"`
	LastActiveAt  *time.Time `json:"last_active_at"`
}

// Testers lists a build's active testers, newest grant first.
func (s *Store) Testers(ctx context.Context, buildID int64, p Page) ([]Tester, string, error) {
	var rows []struct {
		ID int64
		Tester
	}
	q := s.read(ctx).Table("grants").Select("grants.id, grants.user_id, users.email, users.name, grants.created_at AS granted_at, grants.feedback_count, grants.vote_count, grants.last_active_at").
		Joins("JOIN users ON users.id = grants.user_id").Where("grants.build_id = ? AND grants.revoked_at IS NULL", buildID)
	if p.After > 0 {
		q = q.Where("grants.id < ?", p.After)
	}
	limit := p.size()
	if err := q.Order("grants.id DESC").Limit(limit + 1).Scan(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > limit {
		rows = rows[:limit]
		next = EncodeCursor(rows[limit-1].ID)
	}
	out := make([]Tester, len(rows))
	for i, r := range rows {
		out[i] = r.Tester
	}
	return out, next, nil
}

// RevokeTester ends a tester's access to a build at once; their votes stop
// counting in the build's report.
func (s *Store) RevokeTester(ctx context.Context, actor, buildID, userID int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&models.Grant{}).Where("build_id = ? AND user_id = ? AND revoked_at IS NULL", buildID, userID).Update("revoked_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return problem(ErrNotFound, "This user is not a tester of this build.")
		}
		if err := s.moveTesterVotes(tx, buildID, userID, -1); err != nil {
			return err
		}
		return s.audit(tx, &actor, "grant.revoked", "build", buildID, map[string]any{"user_id": userID})
	})
}

// moveTesterVotes adds (+1) or removes (-1) a tester's votes from the
// change aggregates of a build.
func (s *Store) moveTesterVotes(tx *gorm.DB, buildID, userID int64, sign int) error {
	var votes []models.Vote
	if err := tx.Where("build_id = ? AND tester_id = ?", buildID, userID).Find(&votes).Error; err != nil {
		return err
	}
	if len(votes) == 0 {
		return nil
	}
	policy, err := buildPolicy(tx, buildID)
	if err != nil {
		return err
	}
	for _, v := range votes {
		var before models.Change
		if err := tx.First(&before, v.ChangeID).Error; err != nil {
			return err
		}
		if err := bumpVote(tx, v.ChangeID, v.Vote, sign); err != nil {
			return err
		}
		if err := s.reflag(tx, policy, &before); err != nil {
			return err
		}
	}
	return nil
}

func bumpVote(tx *gorm.DB, changeID int64, vote string, delta int) error {
	col := "keep_votes"
	if vote == models.VoteRevert {
		col = "revert_votes"
	}
	return tx.Model(&models.Change{}).Where("id = ?", changeID).Update(col, gorm.Expr(col+" + ?", delta)).Error
}
