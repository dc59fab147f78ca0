// Package models holds Playgate's domain types and its pure rules: roles,
// validation of values, the rollback flag, the release gate and stage
// transitions. It does no I/O.
package models

import "time"

// Role is what a user may do.
type Role string

// The four roles of the contract.
const (
	RoleAdmin          Role = "admin"
	RoleReleaseManager Role = "release_manager"
	RoleProductOwner   Role = "product_owner"
	RoleTester         Role = "tester"
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleReleaseManager, RoleProductOwner, RoleTester:
		return true
	}
	return false
}

// Staff reports whether r reads every build (anyone but a tester).
func (r Role) Staff() bool { return r.Valid() && r != RoleTester }

// User is an account.
type User struct {
	ID           int64     `json:"id" gorm:"primaryKey"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// Session is one login: every refresh token rotated from it shares it, so
// reuse of a spent refresh token can revoke the whole chain.
type Session struct {
	ID        int64 `gorm:"primaryKey"`
	UserID    int64
	CreatedAt time.Time
	RevokedAt *time.Time
}

// RefreshToken is one link of a session's rotation chain, stored hashed.
type RefreshToken struct {
	ID        int64 `gorm:"primaryKey"`
	SessionID int64
	TokenHash string
	ExpiresAt time.Time
	UsedAt    *time.Time
	CreatedAt time.Time
}

// LoginFailure records one failed login, for throttling across replicas.
type LoginFailure struct {
	ID    int64 `gorm:"primaryKey"`
	Email string
	IP    string
	At    time.Time
}

// Product is a game or application that ships builds.
type Product struct {
	ID                int64     `json:"id" gorm:"primaryKey"`
	Name              string    `json:"name"`
	Slug              string    `json:"slug"`
	ProductionBuildID *int64    `json:"production_build_id"`
	CreatedAt         time.Time `json:"created_at"`
}

// Stage is where a build is on its way to players.
type Stage string

// Build stages.
const (
	StageQC         Stage = "qc"
	StageStaging    Stage = "staging"
	StageProduction Stage = "production"
	StageSuperseded Stage = "superseded"
	StageRolledBack Stage = "rolled_back"
)

// Access is what a granted tester needs to reach a build.
type Access struct {
	URL          string `json:"url"`
	Server       string `json:"server"`
	Key          string `json:"key"`
	Instructions string `json:"instructions"`
}

// Build is one QC build of a product.
type Build struct {
	ID         int64      `json:"id" gorm:"primaryKey"`
	ProductID  int64      `json:"product_id"`
	Version    string     `json:"version"`
	Notes      string     `json:"notes"`
	Stage      Stage      `json:"stage"`
	Access     Access     `json:"access" gorm:"embedded;embeddedPrefix:access_"`
	ClosesAt   *time.Time `json:"closes_at"`
	Policy     Policy     `json:"policy" gorm:"embedded;embeddedPrefix:policy_"`
	CreatedAt  time.Time  `json:"created_at"`
	PromotedAt *time.Time `json:"promoted_at"`
	// StagedOver is the production build this one was checked against when
	// it entered staging; production must not have moved since.
	StagedOver *int64 `json:"-"`
	// ReplacedBuildID is the production build this one superseded: where a
	// rollback goes back to.
	ReplacedBuildID *int64 `json:"replaced_build_id"`
	// Aggregates, kept in the same transaction as what moves them.
	FeedbackCount int `json:"-"`
	BugsLow       int `json:"-"`
	BugsMedium    int `json:"-"`
	BugsHigh      int `json:"-"`
	BugsCritical  int `json:"-"`
}

// Closed reports whether testers can no longer vote or submit at now.
func (b *Build) Closed(now time.Time) bool {
	return b.ClosesAt != nil && !now.Before(*b.ClosesAt)
}

// ChangeStatus is the release manager's decision on a change.
type ChangeStatus string

// Change statuses.
const (
	ChangePending  ChangeStatus = "pending"
	ChangeApproved ChangeStatus = "approved"
	ChangeReverted ChangeStatus = "reverted"
)

// Change is one listed change of a build that testers vote on.
type Change struct {
	ID          int64        `json:"id" gorm:"primaryKey"`
	BuildID     int64        `json:"build_id"`
	Key         string       `json:"key"`
	Title       string       `json:"title"`
	Description string       `json:"description"`
	Area        string       `json:"area"`
	Status      ChangeStatus `json:"status"`
	DecidedBy   *int64       `json:"decided_by"`
	DecidedAt   *time.Time   `json:"decided_at"`
	Note        string       `json:"note"`
	Evidence    *string      `json:"-"`
	CreatedAt   time.Time    `json:"created_at"`
	// Aggregates, kept in the same transaction as what moves them.
	KeepVotes    int `json:"-"`
	RevertVotes  int `json:"-"`
	OpenLow      int `json:"-"`
	OpenMedium   int `json:"-"`
	OpenHigh     int `json:"-"`
	OpenCritical int `json:"-"`
}

// Votes are the change's current counted votes.
func (c *Change) Votes() Votes { return Votes{Keep: c.KeepVotes, Revert: c.RevertVotes} }

// OpenBugs are the change's open bugs by severity.
func (c *Change) OpenBugs() OpenBugs {
	return OpenBugs{Low: c.OpenLow, Medium: c.OpenMedium, High: c.OpenHigh, Critical: c.OpenCritical}
}

// Invite is a single-use invitation of one email to one build.
type Invite struct {
	ID         int64      `json:"id" gorm:"primaryKey"`
	BuildID    int64      `json:"build_id"`
	Email      string     `json:"email"`
	TokenHash  string     `json:"-"`
	ExpiresAt  time.Time  `json:"expires_at"`
	CreatedBy  int64      `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	RedeemedAt *time.Time `json:"redeemed_at"`
	RedeemedBy *int64     `json:"redeemed_by"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Status tells pending, redeemed, expired or revoked at now.
func (i *Invite) Status(now time.Time) string {
	switch {
	case i.RevokedAt != nil:
		return "revoked"
	case i.RedeemedAt != nil:
		return "redeemed"
	case !now.Before(i.ExpiresAt):
		return "expired"
	}
	return "pending"
}

// Grant gives a tester access to one build until revoked.
type Grant struct {
	ID        int64 `gorm:"primaryKey"`
	BuildID   int64
	UserID    int64
	InviteID  *int64
	CreatedAt time.Time
	RevokedAt *time.Time
	// Activity, kept on write.
	FeedbackCount int
	VoteCount     int
	LastActiveAt  *time.Time
}

// Vote is one tester's keep-or-revert on one change; the last one counts.
type Vote struct {
	ID        int64     `json:"-" gorm:"primaryKey"`
	ChangeID  int64     `json:"change_id"`
	BuildID   int64     `json:"-"`
	TesterID  int64     `json:"-"`
	Vote      string    `json:"vote"`
	Comment   string    `json:"comment"`
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Vote values.
const (
	VoteKeep   = "keep"
	VoteRevert = "revert"
)

// Platform is where a tester saw what they report.
type Platform struct {
	OS            string `json:"os"`
	Device        string `json:"device"`
	ClientVersion string `json:"client_version"`
}

// Feedback is a bug report, suggestion, praise or other note from a tester.
type Feedback struct {
	ID          int64    `json:"id" gorm:"primaryKey"`
	BuildID     int64    `json:"build_id"`
	ChangeID    *int64   `json:"change_id"`
	TesterID    int64    `json:"tester_id"`
	TesterName  string   `json:"tester_name" gorm:"->"`
	Kind        string   `json:"kind"`
	Severity    *string  `json:"severity"`
	Title       string   `json:"title"`
	Body        string   `json:"body"`
	Platform    Platform `json:"platform" gorm:"embedded;embeddedPrefix:platform_"`
	Status      string   `json:"status"`
	DuplicateOf *int64   `json:"duplicate_of"`
	// Duplicates counts the items folded into this one.
	Duplicates       int        `json:"duplicates"`
	IdempotencyKey   *string    `json:"-"`
	CommentCount     int        `json:"comment_count"`
	AttachmentCount  int        `json:"attachment_count"`
	LastStaffReplyAt *time.Time `json:"last_staff_reply_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// Comment is a reply on a feedback item, by staff or by its tester.
type Comment struct {
	ID         int64     `json:"id" gorm:"primaryKey"`
	FeedbackID int64     `json:"feedback_id"`
	AuthorID   int64     `json:"author_id"`
	AuthorName string    `json:"author_name" gorm:"->"`
	Staff      bool      `json:"staff"`
	Body       string    `json:"body"`
	CreatedAt  time.Time `json:"created_at"`
}

// Attachment is a screenshot on a feedback item, its bytes under the data folder.
type Attachment struct {
	ID          int64     `json:"id" gorm:"primaryKey"`
	FeedbackID  int64     `json:"feedback_id"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Path        string    `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
}

// AuditEvent is one append-only record of a state change.
type AuditEvent struct {
	ID          int64     `json:"id" gorm:"primaryKey"`
	At          time.Time `json:"at"`
	ActorID     *int64    `json:"actor_id"`
	Action      string    `json:"action"`
	SubjectType string    `json:"subject_type"`
	SubjectID   *int64    `json:"subject_id"`
	Detail      JSONText  `json:"detail"`
}

// JSONText is a JSON document stored as text and sent as JSON, not as a string.
type JSONText string

// MarshalJSON writes the document itself ({} when empty).
func (j JSONText) MarshalJSON() ([]byte, error) {
	if j == "" {
		return []byte("{}"), nil
	}
	return []byte(j), nil
}

// TableName keeps the table's name singular, as the migrations made it.
func (Feedback) TableName() string { return "feedback" }
