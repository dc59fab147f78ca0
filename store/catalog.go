package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// CreateProduct stores a product; ErrConflict when the slug is taken.
func (s *Store) CreateProduct(ctx context.Context, actor int64, p *models.Product) error {
	p.CreatedAt = s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(p).Error; err != nil {
			if isDuplicate(err) {
				return problem(ErrConflict, "A product with slug %q already exists.", p.Slug)
			}
			return err
		}
		return s.audit(tx, &actor, "product.created", "product", p.ID, map[string]any{"name": p.Name, "slug": p.Slug})
	})
}

// Products lists products, newest first.
func (s *Store) Products(ctx context.Context, p Page) ([]models.Product, string, error) {
	var out []models.Product
	next, err := keyset(s.read(ctx).Model(&models.Product{}), p, &out, func(i int) int64 { return out[i].ID })
	return out, next, err
}

// Product loads one product.
func (s *Store) Product(ctx context.Context, id int64) (*models.Product, error) {
	var p models.Product
	if err := s.read(ctx).First(&p, id).Error; err != nil {
		return nil, notFound(err, "Product")
	}
	return &p, nil
}

// CreateBuild stores a new build of a product, in stage qc.
func (s *Store) CreateBuild(ctx context.Context, actor int64, b *models.Build) error {
	b.Stage = models.StageQC
	b.CreatedAt = s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&models.Product{}).Where("id = ?", b.ProductID).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return problem(ErrNotFound, "Product not found.")
		}
		if err := tx.Create(b).Error; err != nil {
			if isDuplicate(err) {
				return problem(ErrConflict, "This product already has a build %q.", b.Version)
			}
			return err
		}
		return s.audit(tx, &actor, "build.created", "build", b.ID, map[string]any{"product_id": b.ProductID, "version": b.Version})
	})
}

// BuildFilter narrows a list of builds.
type BuildFilter struct {
	ProductID *int64
	// TesterID, when set, keeps only the builds granted to that tester.
	TesterID *int64
	Page     Page
}

// Builds lists builds, newest first.
func (s *Store) Builds(ctx context.Context, f BuildFilter) ([]models.Build, string, error) {
	q := s.read(ctx).Model(&models.Build{})
	if f.ProductID != nil {
		q = q.Where("product_id = ?", *f.ProductID)
	}
	if f.TesterID != nil {
		q = q.Where("id IN (SELECT build_id FROM grants WHERE user_id = ? AND revoked_at IS NULL)", *f.TesterID)
	}
	var out []models.Build
	next, err := keyset(q, f.Page, &out, func(i int) int64 { return out[i].ID })
	return out, next, err
}

// Build loads one build.
func (s *Store) Build(ctx context.Context, id int64) (*models.Build, error) {
	var b models.Build
	if err := s.read(ctx).First(&b, id).Error; err != nil {
		return nil, notFound(err, "Build")
	}
	return &b, nil
}

// BuildPatch is a partial update of a build.
type BuildPatch struct {
	Notes    *string
	Access   *models.Access
	ClosesAt **time.Time
	Policy   *models.Policy
}

// UpdateBuild applies a patch.
func (s *Store) UpdateBuild(ctx context.Context, actor int64, id int64, p BuildPatch) (*models.Build, error) {
	var b models.Build
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.First(&b, id).Error; err != nil {
			return notFound(err, "Build")
		}
		detail := map[string]any{}
		if p.Notes != nil {
			b.Notes = *p.Notes
			detail["notes"] = true
		}
		if p.Access != nil {
			b.Access = *p.Access
			detail["access"] = true
		}
		if p.ClosesAt != nil {
			b.ClosesAt = *p.ClosesAt
			detail["closes_at"] = b.ClosesAt
		}
		if p.Policy != nil {
			b.Policy = *p.Policy
			detail["policy"] = b.Policy
		}
		if err := tx.Select("notes", "access_url", "access_server", "access_key", "access_instructions", "closes_at",
			"policy_min_votes", "policy_revert_threshold", "policy_confidence", "policy_block_severity").Updates(&b).Error; err != nil {
			return err
		}
		return s.audit(tx, &actor, "build.updated", "build", id, detail)
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// CreateChange adds a change to a build; ErrConflict on a duplicate key.
func (s *Store) CreateChange(ctx context.Context, actor int64, c *models.Change) error {
	c.Status = models.ChangePending
	c.CreatedAt = s.now()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(c).Error; err != nil {
			if isDuplicate(err) {
				return problem(ErrConflict, "This build already has a change with key %q.", c.Key)
			}
			return err
		}
		return s.audit(tx, &actor, "change.created", "change", c.ID, map[string]any{"build_id": c.BuildID, "key": c.Key})
	})
}

// Changes lists a build's changes in the order they were added.
func (s *Store) Changes(ctx context.Context, buildID int64) ([]models.Change, error) {
	var out []models.Change
	err := s.read(ctx).Where("build_id = ?", buildID).Order("id").Find(&out).Error
	return out, err
}

// ChangesPage lists a build's changes in the order they were added, one
// keyset page at a time (ascending: the list reads like the change log).
func (s *Store) ChangesPage(ctx context.Context, buildID int64, p Page) ([]models.Change, string, error) {
	limit := p.size()
	q := s.read(ctx).Where("build_id = ?", buildID)
	if p.After > 0 {
		q = q.Where("id > ?", p.After)
	}
	var out []models.Change
	if err := q.Order("id").Limit(limit + 1).Find(&out).Error; err != nil {
		return nil, "", err
	}
	if len(out) > limit {
		out = out[:limit]
		return out, EncodeCursor(out[limit-1].ID), nil
	}
	return out, "", nil
}

// Change loads one change.
func (s *Store) Change(ctx context.Context, id int64) (*models.Change, error) {
	var c models.Change
	if err := s.read(ctx).First(&c, id).Error; err != nil {
		return nil, notFound(err, "Change")
	}
	return &c, nil
}

// MyVotes maps change id to the tester's current vote on a build.
func (s *Store) MyVotes(ctx context.Context, buildID, testerID int64) (map[int64]string, error) {
	var rows []models.Vote
	if err := s.read(ctx).Where("build_id = ? AND tester_id = ?", buildID, testerID).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(rows))
	for _, v := range rows {
		out[v.ChangeID] = v.Vote
	}
	return out, nil
}
