package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"gorm.io/gorm"
	"playgate/models"
)

// ReportData is what a build's report is made of: the build with its
// aggregates, its changes with theirs, and the tester and daily figures.
type ReportData struct {
	Build          models.Build
	Changes        []models.Change
	TestersGranted int64
	TestersActive  int64
	Timeline       []DayCount
}

// DayCount is the feedback filed on one day (UTC).
type DayCount struct {
	Day      string `json:"day"`
	Feedback int    `json:"feedback"`
}

// Report reads a build's report data; it costs O(changes + days), never
// O(feedback): the counts are aggregates kept on write.
func (s *Store) Report(ctx context.Context, buildID int64) (*ReportData, error) {
	var r ReportData
	// One read transaction: the build's counts, its changes' and the
	// timeline are of one commit.
	err := s.read(ctx).Transaction(func(db *gorm.DB) error {
		if err := db.Raw("SELECT "+buildColumns+" FROM builds WHERE id = ?", buildID).Row().Scan(buildFields(&r.Build)...); err != nil {
			return notFound(err, "Build")
		}
		rows, err := db.Raw("SELECT "+changeColumns+" FROM changes WHERE build_id = ? ORDER BY id", buildID).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r.Changes = append(r.Changes, models.Change{})
			if err := scanChange(rows, &r.Changes[len(r.Changes)-1]); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		err = db.Raw(`SELECT COUNT(*), COUNT(last_active_at) FROM grants WHERE build_id = ? AND revoked_at IS NULL`, buildID).
			Row().Scan(&r.TestersGranted, &r.TestersActive)
		if err != nil {
			return err
		}
		r.Timeline = []DayCount{}
		rows, err = db.Raw("SELECT day, feedback FROM feedback_days WHERE build_id = ? ORDER BY day", buildID).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d DayCount
			if err := rows.Scan(&d.Day, &d.Feedback); err != nil {
				return err
			}
			r.Timeline = append(r.Timeline, d)
		}
		return rows.Err()
	}, &sql.TxOptions{ReadOnly: true}) // a deferred BEGIN on SQLite: readers take no write lock
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// buildColumns are read into a models.Build by buildFields, without the
// reflection of gorm's First (a third of an uncached report).
const buildColumns = `id, product_id, version, notes, stage, access_url, access_server, access_key, access_instructions, closes_at,
	policy_min_votes, policy_revert_threshold, policy_confidence, policy_block_severity, created_at, promoted_at, staged_over,
	replaced_build_id, feedback_count, bugs_low, bugs_medium, bugs_high, bugs_critical`

func buildFields(b *models.Build) []any {
	return []any{&b.ID, &b.ProductID, &b.Version, &b.Notes, &b.Stage, &b.Access.URL, &b.Access.Server, &b.Access.Key, &b.Access.Instructions,
		&b.ClosesAt, &b.Policy.MinVotes, &b.Policy.RevertThreshold, &b.Policy.Confidence, &b.Policy.BlockSeverity, &b.CreatedAt,
		&b.PromotedAt, &b.StagedOver, &b.ReplacedBuildID, &b.FeedbackCount, &b.BugsLow, &b.BugsMedium, &b.BugsHigh, &b.BugsCritical}
}

// changeColumns are read into a models.Change by scanChange, without the
// reflection of gorm's Find (which was half of an uncached report).
const changeColumns = `id, build_id, "key", title, description, area, status, decided_by, decided_at, note, evidence, created_at,
	keep_votes, revert_votes, open_low, open_medium, open_high, open_critical`

func scanChange(rows *sql.Rows, c *models.Change) error {
	return rows.Scan(&c.ID, &c.BuildID, &c.Key, &c.Title, &c.Description, &c.Area, &c.Status, &c.DecidedBy, &c.DecidedAt, &c.Note,
		&c.Evidence, &c.CreatedAt, &c.KeepVotes, &c.RevertVotes, &c.OpenLow, &c.OpenMedium, &c.OpenHigh, &c.OpenCritical)
}

// Decide records a release manager's decision on a change, with the
// evidence they saw frozen beside it. Approving a flagged change needs a
// note; a build in production has its decisions frozen.
func (s *Store) Decide(ctx context.Context, actor, changeID int64, decision models.ChangeStatus, note string) (*models.Change, error) {
	var c models.Change
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&c, changeID).Error; err != nil {
			return notFound(err, "Change")
		}
		var b models.Build
		if err := tx.First(&b, c.BuildID).Error; err != nil {
			return err
		}
		if models.DecisionsFrozen(b.Stage) {
			return problem(ErrConflict, "Build %s has reached production: its decisions are frozen.", b.Version)
		}
		a := models.FlagChange(b.Policy, c.Votes(), c.OpenBugs())
		if decision == models.ChangeApproved && a.Flag.Flagged && note == "" {
			return Invalid(map[string]string{"note": "is required to approve a change flagged for rollback: say why it ships anyway"})
		}
		evidence, err := json.Marshal(a)
		if err != nil {
			return err
		}
		ev := string(evidence)
		now := s.now()
		c.Status, c.DecidedBy, c.DecidedAt, c.Note, c.Evidence = decision, &actor, &now, note, &ev
		if err := tx.Model(&c).Select("status", "decided_by", "decided_at", "note", "evidence").Updates(&c).Error; err != nil {
			return err
		}
		if err := s.emit(tx, b.ID, "decision", map[string]any{"change_id": c.ID, "key": c.Key, "decision": decision}); err != nil {
			return err
		}
		if err := s.hookProduct(tx, b.ProductID, &b, models.EventChangeDecided, map[string]any{"change_id": c.ID, "key": c.Key,
			"title": c.Title, "decision": decision, "note": note, "decided_by": actor}); err != nil {
			return err
		}
		return s.audit(tx, &actor, "change.decided", "change", c.ID, map[string]any{"decision": decision, "note": note, "evidence": a})
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Gate tells where a build would be promoted next and what blocks it.
func (s *Store) Gate(ctx context.Context, buildID int64) (*models.Build, []string, error) {
	b, err := s.Build(ctx, buildID)
	if err != nil {
		return nil, nil, err
	}
	changes, err := s.Changes(ctx, buildID)
	if err != nil {
		return nil, nil, err
	}
	return b, models.GateBlockers(b.Policy, changes), nil
}

// Promote moves a build one stage on through the release gate. Promotions
// of one product are serialised (a row lock on PostgreSQL, the single
// writer on SQLite), and a build reaches production only if production has
// not moved since it entered staging: of two builds racing, one wins and
// the other is refused.
func (s *Store) Promote(ctx context.Context, actor, buildID int64, to models.Stage) (*models.Build, error) {
	var b models.Build
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&b, buildID).Error; err != nil {
			return notFound(err, "Build")
		}
		if err := s.lockRow(tx, "products", b.ProductID); err != nil {
			return err
		}
		var p models.Product
		if err := tx.First(&p, b.ProductID).Error; err != nil {
			return err
		}
		if err := tx.First(&b, buildID).Error; err != nil { // re-read under the lock
			return err
		}
		next, ok := models.NextStage(b.Stage)
		restage := b.Stage == models.StageStaging && to == models.StageStaging
		switch {
		case !ok:
			return problem(ErrConflict, "Build %s is %s: it cannot be promoted.", b.Version, b.Stage)
		case to != next && !restage:
			return problem(ErrConflict, "Build %s is in %s: it can only be promoted to %s.", b.Version, b.Stage, next)
		}
		var changes []models.Change
		if err := tx.Where("build_id = ?", b.ID).Order("id").Find(&changes).Error; err != nil {
			return err
		}
		if blockers := models.GateBlockers(b.Policy, changes); len(blockers) > 0 {
			return &Problem{Kind: ErrConflict, Message: "The release gate is closed: decide every change and fix approved changes' blocking bugs.", Blockers: blockers}
		}
		now := s.now()
		from := b.Stage
		switch to {
		case models.StageStaging:
			b.StagedOver = copyID(p.ProductionBuildID)
		case models.StageProduction:
			if !sameID(b.StagedOver, p.ProductionBuildID) {
				return problem(ErrConflict, "Production changed after build %s entered staging: promote it to staging again to re-check it against the new production build.", b.Version)
			}
			if p.ProductionBuildID != nil {
				if err := tx.Model(&models.Build{}).Where("id = ?", *p.ProductionBuildID).Update("stage", models.StageSuperseded).Error; err != nil {
					return err
				}
			}
			b.ReplacedBuildID = copyID(p.ProductionBuildID) // p's field changes below
			if err := tx.Model(&p).Update("production_build_id", b.ID).Error; err != nil {
				return err
			}
		}
		b.Stage, b.PromotedAt = to, &now
		if err := tx.Model(&b).Select("stage", "promoted_at", "staged_over", "replaced_build_id").Updates(&b).Error; err != nil {
			return err
		}
		if err := s.emit(tx, b.ID, "stage", map[string]any{"from": from, "to": to}); err != nil {
			return err
		}
		if err := s.hookProduct(tx, b.ProductID, &b, models.EventBuildPromoted, map[string]any{"from": from, "stage": to}); err != nil {
			return err
		}
		return s.audit(tx, &actor, "build.promoted", "build", b.ID, map[string]any{"from": from, "to": to, "replaced_build_id": b.ReplacedBuildID})
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

func copyID(p *int64) *int64 {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func sameID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// Rollback puts a product's previous production build back in production;
// the current one becomes rolled_back. ErrConflict when there is none.
func (s *Store) Rollback(ctx context.Context, actor, productID int64) (*models.Product, error) {
	var p models.Product
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := s.lockRow(tx, "products", productID); err != nil {
			return err
		}
		if err := tx.First(&p, productID).Error; err != nil {
			return notFound(err, "Product")
		}
		if p.ProductionBuildID == nil {
			return problem(ErrConflict, "Product %s has no production build to roll back.", p.Name)
		}
		var cur models.Build
		if err := tx.First(&cur, *p.ProductionBuildID).Error; err != nil {
			return err
		}
		if cur.ReplacedBuildID == nil {
			return problem(ErrConflict, "Build %s is the first production build of %s: there is nothing to roll back to.", cur.Version, p.Name)
		}
		var prev models.Build
		if err := tx.First(&prev, *cur.ReplacedBuildID).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return problem(ErrConflict, "The previous production build is gone.")
			}
			return err
		}
		if err := tx.Model(&cur).Update("stage", models.StageRolledBack).Error; err != nil {
			return err
		}
		if err := tx.Model(&prev).Update("stage", models.StageProduction).Error; err != nil {
			return err
		}
		if err := tx.Model(&p).Update("production_build_id", prev.ID).Error; err != nil {
			return err
		}
		p.ProductionBuildID = &prev.ID
		for _, e := range []struct {
			id int64
			to models.Stage
		}{{cur.ID, models.StageRolledBack}, {prev.ID, models.StageProduction}} {
			if err := s.emit(tx, e.id, "stage", map[string]any{"to": e.to, "rollback": true}); err != nil {
				return err
			}
		}
		if err := s.hookProduct(tx, p.ID, &prev, models.EventProductRolledBack, map[string]any{"from_build_id": cur.ID,
			"from_version": cur.Version, "to_build_id": prev.ID, "to_version": prev.Version}); err != nil {
			return err
		}
		return s.audit(tx, &actor, "product.rolled_back", "product", p.ID, map[string]any{"from_build_id": cur.ID, "to_build_id": prev.ID})
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}
