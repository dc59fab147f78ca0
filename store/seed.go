package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// Seeding is for benchmarks, demos and tests, never for the request path.
// It writes with multi-row INSERTs in large transactions on one connection
// of the writer pool (see bulkLoad), and leaves the aggregates (vote and
// bug counts, tester activity, duplicates, the daily timeline) exactly as
// the API would have: SeedFeedback recounts them, Seed keeps them as it
// writes (a test checks them against Recount). Run it while no server
// writes to the same database: Seed picks the ids of the rows it adds
// itself. The loader is in seedload.go, the data set Seed makes in
// seedgen.go, and the full-text index a load builds in seedfts.go.

// seedChunk is how many rows one seeding transaction holds when the
// tables were not empty, and how often progress is reported.
const seedChunk = 50_000

// SeedFeedback bulk-inserts n feedback items by one tester into a build,
// in large transactions, then recounts the aggregates. shape may adjust
// each item before it is stored.
func (s *Store) SeedFeedback(ctx context.Context, buildID, testerID int64, n int, shape func(i int, fb *models.Feedback)) error {
	now := s.now()
	days := map[dayKey]int{}
	err := s.bulkLoad(ctx, []string{"feedback"}, func(l *loader) error {
		w := l.table("feedback", feedbackCols[1:]...) // ids from the database
		for i := 0; i < n; i++ {
			fb := models.Feedback{BuildID: buildID, TesterID: testerID, Kind: "suggestion", Title: "Seeded item " + strconv.Itoa(i),
				Status: "new", CreatedAt: now.Add(time.Duration(i-n) * time.Second), UpdatedAt: now}
			if shape != nil {
				shape(i, &fb)
			}
			days[dayKey{fb.BuildID, fb.CreatedAt.UTC().Format(time.DateOnly)}]++
			if err := w.add(feedbackValues(&fb)[1:]...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("seed feedback: %w", err)
	}
	if err := s.addFeedbackDays(ctx, days); err != nil {
		return err
	}
	return s.Recount(ctx)
}

// SeedSpec describes a data set: one product with several builds. The
// counts are those of the newest build (the one benchmarks target); each
// older build gets a fiftieth of its feedback and votes.
type SeedSpec struct {
	Feedback, Votes, Changes, Testers int
	// Builds is how many builds the product has, the newest in stage qc
	// (default 3: one superseded, one in production, one in qc).
	Builds int
	// Product names the product (default "Starfall"); its slug is made unique.
	Product string
	// PasswordHash is every seeded user's password (see models.HashPassword).
	PasswordHash string
	// Seed makes the data set reproducible (default 1).
	Seed uint64
	// Recount rebuilds every aggregate of the database with Recount at the
	// end. Seed keeps the aggregates of what it writes as it writes them,
	// so this is a cross-check: at a million items it adds about 40 % to
	// the load.
	Recount bool
	// Progress, when set, hears about each committed chunk.
	Progress func(table string, done, total int)
}

// SeedResult tells what Seed made.
type SeedResult struct {
	ProductID int64   `json:"product_id"`
	Slug      string  `json:"slug"`
	BuildID   int64   `json:"build_id"`
	BuildIDs  []int64 `json:"build_ids"`
	// Staff are the admin, release manager and product owner emails.
	Staff []string `json:"staff"`
	// Testers is the email pattern of the testers ({n} from 1).
	Testers string           `json:"testers"`
	Rows    map[string]int64 `json:"rows"`
	Total   int64            `json:"total_rows"`
	Insert  time.Duration    `json:"insert_ns"`
	Recount time.Duration    `json:"recount_ns"`
}

// Seed loads a realistic data set: a product, its builds and changes,
// staff, testers with grants, votes skewed towards a few changes and a few
// busy testers (some changes controversial, a few broken), and feedback of
// every kind, severity and status with varied text, spread over the
// testing window and filed mostly by the busiest testers. The aggregates
// (vote and open-bug counts, build totals, tester activity, duplicates,
// the daily timeline) are those Recount would compute.
func (s *Store) Seed(ctx context.Context, spec SeedSpec) (*SeedResult, error) {
	if spec.Builds <= 0 {
		spec.Builds = 3
	}
	if spec.Product == "" {
		spec.Product = "Starfall"
	}
	if spec.Seed == 0 {
		spec.Seed = 1
	}
	if spec.PasswordHash == "" || spec.Changes < 1 || spec.Testers < 1 || spec.Feedback < 0 || spec.Votes < 0 {
		return nil, errors.New("seed needs a password hash, at least one change and one tester")
	}
	g := &seedGen{rng: rand.New(rand.NewPCG(spec.Seed, 0x9e3779b97f4a7c15)), spec: spec, now: s.now().Truncate(time.Second),
		days: map[dayKey]int{}}
	start := time.Now()
	res := &SeedResult{Rows: map[string]int64{}}
	if err := s.tx(ctx, func(tx *gorm.DB) error { return g.catalog(tx, res) }); err != nil {
		return nil, fmt.Errorf("seed catalog: %w", err)
	}
	w := s.w.WithContext(ctx)
	if err := errors.Join(w.Raw("SELECT COALESCE(MAX(id), 0) FROM users").Scan(&g.userBase).Error,
		w.Raw("SELECT COALESCE(MAX(id), 0) FROM feedback").Scan(&g.nextFeedback).Error); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	err := s.bulkLoad(ctx, []string{"feedback", "votes"}, func(l *loader) error {
		l.progress = spec.Progress
		return g.load(l, res)
	})
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	if err := s.addFeedbackDays(ctx, g.days); err != nil {
		return nil, err
	}
	res.Rows["feedback_days"] = int64(len(g.days))
	if s.dialect == Postgres {
		for _, t := range []string{"users", "feedback"} {
			if err := s.w.WithContext(ctx).Exec("SELECT setval(pg_get_serial_sequence('" + t + "', 'id'), (SELECT MAX(id) FROM " + t + "))").Error; err != nil {
				return nil, fmt.Errorf("seed: advance %s ids: %w", t, err)
			}
		}
	}
	res.Insert = time.Since(start)
	if spec.Recount {
		if err := s.Recount(ctx); err != nil {
			return nil, err
		}
		res.Recount = time.Since(start) - res.Insert
	}
	for _, n := range res.Rows {
		res.Total += n
	}
	return res, nil
}

// dayKey is one build's day (UTC) in feedback_days.
type dayKey struct {
	build int64
	day   string
}

// addFeedbackDays adds seeded items to the daily timeline.
func (s *Store) addFeedbackDays(ctx context.Context, days map[dayKey]int) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		for k, n := range days {
			err := tx.Exec(`INSERT INTO feedback_days (build_id, day, feedback) VALUES (?, ?, ?)
				ON CONFLICT (build_id, day) DO UPDATE SET feedback = feedback_days.feedback + excluded.feedback`, k.build, k.day, n).Error
			if err != nil {
				return fmt.Errorf("seed timeline: %w", err)
			}
		}
		return nil
	})
}
