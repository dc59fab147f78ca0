package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// RefreshLifetime is how long a refresh token stays valid unused.
const RefreshLifetime = 30 * 24 * time.Hour

// NewToken returns 256 random bits, URL-safe.
func NewToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is the SHA-256 under which a token is stored.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// NormalizeEmail lower-cases and trims an address, so one person has one account.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// CountUsers counts accounts, for the first-admin bootstrap.
func (s *Store) CountUsers(ctx context.Context) (int64, error) {
	var n int64
	err := s.read(ctx).Model(&models.User{}).Count(&n).Error
	return n, err
}

// CreateUser stores a new account; ErrConflict when the email exists.
func (s *Store) CreateUser(ctx context.Context, actor *int64, u *models.User) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return s.createUser(tx, actor, u) })
}

func (s *Store) createUser(tx *gorm.DB, actor *int64, u *models.User) error {
	u.Email = NormalizeEmail(u.Email)
	u.CreatedAt = s.now()
	if err := tx.Create(u).Error; err != nil {
		if isDuplicate(err) {
			return problem(ErrConflict, "A user with email %s already exists.", u.Email)
		}
		return err
	}
	return s.audit(tx, actor, "user.created", "user", u.ID, map[string]any{"email": u.Email, "role": u.Role})
}

// UserByEmail loads one user by address.
func (s *Store) UserByEmail(ctx context.Context, email string) (*models.User, error) {
	var u models.User
	if err := s.read(ctx).Where("email = ?", NormalizeEmail(email)).First(&u).Error; err != nil {
		return nil, notFound(err, "User")
	}
	return &u, nil
}

// Users lists accounts, newest first.
func (s *Store) Users(ctx context.Context, p Page) ([]models.User, string, error) {
	var out []models.User
	next, err := keyset(s.read(ctx).Model(&models.User{}), p, &out, func(i int) int64 { return out[i].ID })
	return out, next, err
}

// UserPatch is a partial update of a user. PasswordHash, when set,
// replaces the password and ends every session of the user.
type UserPatch struct {
	Name         *string
	Role         *models.Role
	Disabled     *bool
	PasswordHash *string
}

// UpdateUser applies a patch. Disabling a user also ends their sessions.
func (s *Store) UpdateUser(ctx context.Context, actor int64, id int64, p UserPatch) (*models.User, error) {
	var u models.User
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&u, id).Error; err != nil {
			return notFound(err, "User")
		}
		changes := map[string]any{}
		if p.Name != nil {
			changes["name"] = *p.Name
		}
		if p.Role != nil {
			changes["role"] = *p.Role
		}
		if p.Disabled != nil {
			changes["disabled"] = *p.Disabled
		}
		if p.PasswordHash != nil {
			changes["password_hash"] = *p.PasswordHash
		}
		if len(changes) == 0 {
			return nil
		}
		if id == actor && ((p.Disabled != nil && *p.Disabled) || (p.Role != nil && *p.Role != models.RoleAdmin)) {
			return problem(ErrConflict, "You cannot disable yourself or drop your own admin role.")
		}
		if err := tx.Model(&u).Updates(changes).Error; err != nil {
			return err
		}
		if (p.Disabled != nil && *p.Disabled) || p.PasswordHash != nil {
			if err := tx.Model(&models.Session{}).Where("user_id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.now()).Error; err != nil {
				return err
			}
		}
		if p.PasswordHash != nil {
			changes["password_hash"] = "(changed)" // never the hash in the audit log
		}
		return s.audit(tx, &actor, "user.updated", "user", id, changes)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// ChangePassword replaces a user's own password and ends their other
// sessions (a stolen session dies with the old password).
func (s *Store) ChangePassword(ctx context.Context, userID, keepSession int64, hash string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Model(&models.User{}).Where("id = ?", userID).Update("password_hash", hash).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.Session{}).Where("user_id = ? AND id <> ? AND revoked_at IS NULL", userID, keepSession).Update("revoked_at", s.now()).Error; err != nil {
			return err
		}
		return s.audit(tx, &userID, "user.password_changed", "user", userID, nil)
	})
}

// StartSession opens a session for a user and returns its first refresh token.
func (s *Store) StartSession(ctx context.Context, userID int64) (sessionID int64, refresh string, err error) {
	err = s.tx(ctx, func(tx *gorm.DB) error {
		sessionID, refresh, err = s.startSession(tx, userID)
		if err != nil {
			return err
		}
		return tx.Where("email = (SELECT email FROM users WHERE id = ?)", userID).Delete(&models.LoginFailure{}).Error
	})
	return sessionID, refresh, err
}

func (s *Store) startSession(tx *gorm.DB, userID int64) (int64, string, error) {
	sess := models.Session{UserID: userID, CreatedAt: s.now()}
	if err := tx.Create(&sess).Error; err != nil {
		return 0, "", err
	}
	token, err := s.issueRefresh(tx, sess.ID)
	return sess.ID, token, err
}

func (s *Store) issueRefresh(tx *gorm.DB, sessionID int64) (string, error) {
	token := NewToken()
	rt := models.RefreshToken{SessionID: sessionID, TokenHash: HashToken(token), ExpiresAt: s.now().Add(RefreshLifetime), CreatedAt: s.now()}
	return token, tx.Create(&rt).Error
}

// errRefreshInvalid is any refused refresh token; the client learns no more.
var errRefreshInvalid = problem(ErrUnauthorized, "The refresh token is invalid or expired.")

// Refresh rotates a refresh token: the old one is spent and a new one of the
// same session returned. Presenting a spent token revokes the whole session.
func (s *Store) Refresh(ctx context.Context, token string) (*models.User, int64, string, error) {
	var (
		user    models.User
		session models.Session
		next    string
		reused  bool
	)
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var rt models.RefreshToken
		if err := tx.Where("token_hash = ?", HashToken(token)).First(&rt).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errRefreshInvalid
			}
			return err
		}
		if err := tx.First(&session, rt.SessionID).Error; err != nil {
			return err
		}
		if session.RevokedAt != nil || !s.now().Before(rt.ExpiresAt) {
			return errRefreshInvalid
		}
		if rt.UsedAt != nil {
			// A spent token came back: someone holds a copy. End the session.
			reused = true
			if err := tx.Model(&session).Update("revoked_at", s.now()).Error; err != nil {
				return err
			}
			return s.audit(tx, &session.UserID, "session.reuse_detected", "session", session.ID, nil)
		}
		if err := tx.First(&user, session.UserID).Error; err != nil {
			return err
		}
		if user.Disabled {
			return errRefreshInvalid
		}
		res := tx.Model(&models.RefreshToken{}).Where("id = ? AND used_at IS NULL", rt.ID).Update("used_at", s.now())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return errRefreshInvalid
		}
		var err error
		next, err = s.issueRefresh(tx, session.ID)
		return err
	})
	if reused && err == nil {
		return nil, 0, "", errRefreshInvalid
	}
	if err != nil {
		return nil, 0, "", err
	}
	return &user, session.ID, next, nil
}

// Logout revokes the session of a refresh token; unknown tokens are ignored.
func (s *Store) Logout(ctx context.Context, token string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var rt models.RefreshToken
		if err := tx.Where("token_hash = ?", HashToken(token)).First(&rt).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return nil
			}
			return err
		}
		var sess models.Session
		if err := tx.First(&sess, rt.SessionID).Error; err != nil {
			return err
		}
		if sess.RevokedAt != nil {
			return nil
		}
		if err := tx.Model(&sess).Update("revoked_at", s.now()).Error; err != nil {
			return err
		}
		return s.audit(tx, &sess.UserID, "session.logout", "session", sess.ID, nil)
	})
}

// Principal loads the user behind an access token, checking that the user
// is enabled and the token's session is live: disabling a user or ending a
// session cuts access on the very next request.
func (s *Store) Principal(ctx context.Context, userID, sessionID int64) (*models.User, error) {
	var gen uint64
	if s.principals != nil {
		if u, ok := s.principals.get(sessionID, userID); ok {
			return &u, nil
		}
		gen = s.principals.generation()
	}
	var row struct {
		models.User
		Revoked *time.Time
	}
	err := s.read(ctx).Raw(`SELECT u.*, s.revoked_at AS revoked FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = ? AND s.id = ?`, userID, sessionID).Scan(&row).Error
	if err != nil {
		return nil, err
	}
	if row.User.ID == 0 || row.Disabled || row.Revoked != nil {
		return nil, problem(ErrUnauthorized, "The session has ended.")
	}
	if s.principals != nil {
		s.principals.put(sessionID, row.User, gen)
	}
	return &row.User, nil
}

// Login throttling: failures per account and per address in a window.
const (
	LoginWindow      = 15 * time.Minute
	MaxFailsPerEmail = 5
	MaxFailsPerIP    = 20
)

// LoginThrottled tells how long the caller must wait before trying again
// (0: go ahead). Counted in the database, so replicas share it.
func (s *Store) LoginThrottled(ctx context.Context, email, ip string) (time.Duration, error) {
	since := s.now().Add(-LoginWindow)
	check := func(col, val string, max int) (time.Duration, error) {
		var ats []time.Time
		err := s.read(ctx).Model(&models.LoginFailure{}).Where(col+" = ? AND at > ?", val, since).
			Order("at DESC").Limit(max).Pluck("at", &ats).Error
		if err != nil || len(ats) < max {
			return 0, err
		}
		// The oldest of the last max failures leaves the window first.
		wait := ats[max-1].Add(LoginWindow).Sub(s.now())
		if wait < time.Second {
			wait = time.Second
		}
		return wait, nil
	}
	if w, err := check("email", NormalizeEmail(email), MaxFailsPerEmail); err != nil || w > 0 {
		return w, err
	}
	return check("ip", ip, MaxFailsPerIP)
}

// RecordLoginFailure counts one failed login and audits it.
func (s *Store) RecordLoginFailure(ctx context.Context, email, ip string, userID *int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("at < ?", s.now().Add(-LoginWindow)).Delete(&models.LoginFailure{}).Error; err != nil {
			return err
		}
		if err := tx.Create(&models.LoginFailure{Email: NormalizeEmail(email), IP: ip, At: s.now()}).Error; err != nil {
			return err
		}
		var subject int64
		if userID != nil {
			subject = *userID
		}
		return s.audit(tx, nil, "auth.login_failed", "user", subject, map[string]any{"email": NormalizeEmail(email), "ip": ip})
	})
}
