package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// SeedFeedback bulk-inserts n feedback items by one tester into a build,
// in large transactions, then recounts the aggregates. It is for
// benchmarks, demos and tests, not for the request path.
func (s *Store) SeedFeedback(ctx context.Context, buildID, testerID int64, n int, shape func(i int, fb *models.Feedback)) error {
	const batch = 1000
	now := s.now()
	for start := 0; start < n; start += batch {
		end := min(start+batch, n)
		rows := make([]models.Feedback, 0, end-start)
		for i := start; i < end; i++ {
			fb := models.Feedback{BuildID: buildID, TesterID: testerID, Kind: "suggestion", Title: fmt.Sprintf("Seeded item %d", i),
				Status: "new", CreatedAt: now.Add(time.Duration(i-n) * time.Second), UpdatedAt: now}
			if shape != nil {
				shape(i, &fb)
			}
			rows = append(rows, fb)
		}
		err := s.tx(ctx, func(tx *gorm.DB) error { return tx.Omit("tester_name").CreateInBatches(rows, 200).Error })
		if err != nil {
			return fmt.Errorf("seed feedback: %w", err)
		}
	}
	return s.Recount(ctx)
}
