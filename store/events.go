package store

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"gorm.io/gorm"
	"playgate/models"
)

// BuildEvent is one entry of a build's live stream. Events are rows written
// in the same transaction as the change they report, so a stream never
// shows what did not commit, and a reconnecting client replays by id.
type BuildEvent struct {
	ID      int64 `gorm:"primaryKey"`
	BuildID int64
	Type    string
	Data    string
	At      time.Time
}

// TableName names the events table.
func (BuildEvent) TableName() string { return "build_events" }

// EventRetention is how long events stay replayable.
const EventRetention = time.Hour

// waker tells stream readers that something committed.
type waker struct {
	mu sync.Mutex
	ch chan struct{}
}

func (w *waker) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch == nil {
		w.ch = make(chan struct{})
	}
	return w.ch
}

func (w *waker) wake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ch != nil {
		close(w.ch)
		w.ch = nil
	}
}

// Changed is closed at the next commit of this process; readers then look
// for new events (and poll as well, for commits by other replicas).
func (s *Store) Changed() <-chan struct{} { return s.wakeups.wait() }

// OutboxChanged is closed at the next commit of this process that queued a
// webhook delivery (see hookProduct); the worker also polls, for the
// deliveries other replicas queue and for retries that come due.
func (s *Store) OutboxChanged() <-chan struct{} { return s.outboxWakeups.wait() }

// committed wakes whoever waits for what a commit just made visible.
func (s *Store) committed() {
	if s.outboxQueued.Swap(false) {
		s.outboxWakeups.wake()
	}
	s.wakeups.wake()
}

// emit appends an event to a build's stream inside the caller's transaction.
func (s *Store) emit(tx *gorm.DB, buildID int64, typ string, data map[string]any) error {
	data["build_id"] = buildID
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	if err := tx.Exec("INSERT INTO build_events (build_id, type, data, at) VALUES (?, ?, ?, ?)", buildID, typ, string(b), s.now()).Error; err != nil {
		return err
	}
	return s.notifyReplicas(tx)
}

// Events lists a build's events after id (oldest first), at most limit,
// from the retention window only.
func (s *Store) Events(ctx context.Context, buildID, after int64, limit int) ([]BuildEvent, error) {
	var out []BuildEvent
	err := s.read(ctx).Where("build_id = ? AND id > ? AND at > ?", buildID, after, s.now().Add(-EventRetention)).
		Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// LastEventID is the newest event id of a build (0 when none).
func (s *Store) LastEventID(ctx context.Context, buildID int64) (int64, error) {
	var id int64
	err := s.read(ctx).Model(&BuildEvent{}).Where("build_id = ?", buildID).Select("COALESCE(MAX(id), 0)").Scan(&id).Error
	return id, err
}

// PruneEvents drops events older than the retention window (with margin).
func (s *Store) PruneEvents(ctx context.Context) error {
	return s.w.WithContext(ctx).Where("at < ?", s.now().Add(-2*EventRetention)).Delete(&BuildEvent{}).Error
}

// buildPolicy reads a build's rollback policy inside a transaction.
func buildPolicy(tx *gorm.DB, buildID int64) (models.Policy, error) {
	var p models.Policy
	err := tx.Raw(`SELECT policy_min_votes AS min_votes, policy_revert_threshold AS revert_threshold,
		policy_confidence AS confidence, policy_block_severity AS block_severity FROM builds WHERE id = ?`, buildID).Scan(&p).Error
	return p, err
}

// reflag emits a flag event when the rollback rule's answer for a change
// differs between before and now (call after moving its aggregates).
func (s *Store) reflag(tx *gorm.DB, policy models.Policy, before *models.Change) error {
	var after models.Change
	if err := tx.First(&after, before.ID).Error; err != nil {
		return err
	}
	event, payload := flagMoved(policy, before, &after)
	if event == nil {
		return nil
	}
	if err := s.emit(tx, after.BuildID, "flag", event); err != nil {
		return err
	}
	if payload == nil {
		return nil
	}
	return s.hook(tx, after.BuildID, models.EventChangeFlagged, payload)
}

// flagMoved compares a change's flag before and after a write. If it
// moved, event is the stream event's data (without build_id), and payload
// the change.flagged webhook's when the change became flagged.
func flagMoved(policy models.Policy, before, after *models.Change) (event, payload map[string]any) {
	was := models.FlagChange(policy, before.Votes(), before.OpenBugs())
	now := models.FlagChange(policy, after.Votes(), after.OpenBugs())
	if was.Flag.Flagged == now.Flag.Flagged {
		return nil, nil
	}
	event = map[string]any{"change_id": after.ID, "key": after.Key, "flagged": now.Flag.Flagged, "verdict": now.Flag.Verdict,
		"reasons": now.Flag.Reasons}
	if now.Flag.Flagged {
		payload = map[string]any{"change_id": after.ID, "key": after.Key, "title": after.Title, "reasons": now.Flag.Reasons,
			"votes": now.Votes, "open_bugs": now.OpenBugs}
	}
	return event, payload
}
