package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Test hooks, compiled only into this package's tests.

// MigrateTo applies the migrations up to version and no further, so a test
// can build a database as an earlier release left it.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	create := s.render(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {{ts}} NOT NULL)`)
	if err := s.w.WithContext(ctx).Exec(create).Error; err != nil {
		return err
	}
	for _, m := range migrations {
		if m.version > version {
			break
		}
		err := s.tx(ctx, func(tx *gorm.DB) error {
			for _, stmt := range splitSQL(s.render(m.sql)) {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%.60s…: %w", stmt, err)
				}
			}
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, s.now()).Error
		})
		if err != nil {
			return fmt.Errorf("migration %d: %w", m.version, err)
		}
	}
	return nil
}

// WriterDB is the store's write connection, for tests that seed or inspect
// raw rows.
func (s *Store) WriterDB() *gorm.DB { return s.w }
