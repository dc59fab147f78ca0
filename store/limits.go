package store

import (
	"context"
	"strconv"
	"time"
)

// Hit counts one request against a fixed-window limit shared by every
// replica (the counter lives in the database) and tells whether it is
// allowed, and if not how long until the window ends.
func (s *Store) Hit(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := s.now()
	start := now.Truncate(window)
	end := start.Add(window)
	k := key + "@" + strconv.FormatInt(start.Unix(), 10)
	var count int
	err := s.w.WithContext(ctx).Raw(`INSERT INTO rate_counters (key, count, expires_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET count = rate_counters.count + 1 RETURNING count`, k, end).Scan(&count).Error
	if err != nil {
		return false, 0, err
	}
	if count > limit {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}

// PruneRateCounters drops finished windows.
func (s *Store) PruneRateCounters(ctx context.Context) error {
	return s.w.WithContext(ctx).Exec("DELETE FROM rate_counters WHERE expires_at < ?", s.now()).Error
}
