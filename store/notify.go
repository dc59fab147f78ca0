package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// notifyChannel carries "something committed" between replicas on PostgreSQL.
const notifyChannel = "playgate_events"

// notifyReplicas asks PostgreSQL to tell every listening replica, at
// commit, that the transaction wrote events (several in one transaction
// fold into one notification).
func (s *Store) notifyReplicas(tx *gorm.DB) error {
	if s.dialect != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, '')", notifyChannel).Error
}

// Listen wakes this process's event streams and workers whenever another
// replica commits events (PostgreSQL LISTEN/NOTIFY). It reconnects until
// ctx ends; on SQLite there is one process and it returns at once.
func (s *Store) Listen(ctx context.Context, log *slog.Logger) {
	if s.dialect != Postgres {
		return
	}
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listen for other replicas' events; retrying", "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		// Another replica committed: it may have queued deliveries too.
		s.outboxWakeups.wake()
		s.wakeups.wake()
	}
}
