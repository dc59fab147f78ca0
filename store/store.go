// Package store opens Playgate's database (SQLite or PostgreSQL), migrates
// it, and holds every query and transaction.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Sentinel errors; handlers map them to the contract's statuses with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrGone      = errors.New("gone")
	ErrForbidden = errors.New("forbidden")
	// ErrUnauthorized: a refused token or session (401).
	ErrUnauthorized = errors.New("unauthorized")
	ErrInvalid      = errors.New("invalid")
)

// Problem is an error with a message meant for the client; it unwraps to
// one of the sentinel errors.
type Problem struct {
	Kind    error
	Message string
	Fields  map[string]string
	// Blockers lists every reason a promotion was refused.
	Blockers []string
}

func (p *Problem) Error() string { return p.Kind.Error() + ": " + p.Message }
func (p *Problem) Unwrap() error { return p.Kind }

func problem(kind error, format string, args ...any) error {
	return &Problem{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalid is a validation problem naming the fields at fault.
func Invalid(fields map[string]string) error {
	return &Problem{Kind: ErrInvalid, Message: "Some fields are invalid.", Fields: fields}
}

// Dialect names the database in use.
type Dialect string

// Supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// minSQLite is the oldest SQLite accepted: 3.51.3 fixes the WAL-reset
// corruption bug of earlier releases.
const minSQLite = "3.51.3"

// sqliteReaders is how many connections SQLite's read pool holds.
const sqliteReaders = 8

// Store is the database behind Playgate. On SQLite, writes go through one
// connection (w) so they never race for the lock, and reads use their own
// pool (r); on PostgreSQL both are the same pool.
type Store struct {
	w, r    *gorm.DB
	dialect Dialect
	// DataDir holds the SQLite file and the attachments.
	DataDir string
	now     func() time.Time
	wakeups waker
	// outboxQueued says a write queued a webhook delivery since the last
	// commit; outboxWakeups wakes the delivery worker.
	outboxQueued  atomic.Bool
	outboxWakeups waker
	// url is the PostgreSQL URL, for the LISTEN connection.
	url string
	// batch groups concurrent writes into shared transactions (on
	// PostgreSQL, feedback only).
	batch *batcher
	// checkpoints folds the WAL into the database (SQLite only).
	checkpoints *checkpointer
	// version counts the writer's commits (SQLite only), see DataVersion.
	version atomic.Uint64
	// principals caches authenticated users (SQLite only).
	principals *principalCache
	// setFault, set by tests, fails every set-based batch (ingest.go).
	setFault error
	// holdFTS, set by tests, keeps the writer from indexing waiting items
	// unless a search asks (ftsindex.go).
	holdFTS atomic.Bool
	// unprepared, set by tests, has the writer run its statements through
	// gorm, as it does when it cannot reach the driver's connection.
	unprepared bool
}

// Options configure Open.
type Options struct {
	// URL is empty for SQLite in DataDir, or a postgres:// URL.
	URL     string
	DataDir string
}

// Open connects, checks the engine version and applies pending migrations.
func Open(ctx context.Context, o Options) (*Store, error) {
	s, err := Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.dialect == SQLite {
		// Items a crash or another process left out of the full-text
		// index (ftsindex.go), before the writer takes any write.
		if err := s.catchUpFTS(ctx, ftsCatchUpMax); err != nil {
			s.Close()
			return nil, err
		}
		// A reader connection opened before the migration answers its first
		// query with the old schema's columns (new ones read as zero): close
		// the idle readers so every reader starts on the migrated schema.
		if rdb, err := s.r.DB(); err == nil {
			rdb.SetMaxIdleConns(0)
			rdb.SetMaxIdleConns(sqliteReaders)
		}
	}
	return s, nil
}

// Connect opens the database without migrating it.
func Connect(ctx context.Context, o Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Join(o.DataDir, "attachments"), 0o750); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	s := &Store{DataDir: o.DataDir}
	s.SetClock(time.Now)
	cfg := &gorm.Config{TranslateError: true, Logger: logger.Discard, NowFunc: func() time.Time { return s.kept(time.Now()) }}
	switch {
	case o.URL == "":
		s.dialect = SQLite
		file := filepath.Join(o.DataDir, "playgate.db")
		dsn := "file:" + file + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate"
		if vfs := registerWALVFS(); vfs != "" {
			dsn += "&vfs=" + vfs // the log written in runs (walvfs.go)
		}
		// The writer keeps statement journals (savepoints, multi-row
		// statements) in memory, not in temporary files, and never
		// checkpoints inside a commit (checkpoint.go).
		w, err := gorm.Open(sqlite.Open(dsn+"&_pragma=temp_store(MEMORY)&_pragma=wal_autocheckpoint(0)"), cfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", file, err)
		}
		r, err := gorm.Open(sqlite.Open(dsn+"&_pragma=query_only(1)"), cfg)
		if err != nil {
			return nil, fmt.Errorf("open sqlite readers %s: %w", file, err)
		}
		wdb, _ := w.DB()
		wdb.SetMaxOpenConns(1)
		wdb.SetMaxIdleConns(1)
		wdb.SetConnMaxLifetime(0)
		rdb, _ := r.DB()
		rdb.SetMaxOpenConns(sqliteReaders)
		rdb.SetMaxIdleConns(sqliteReaders)
		s.w, s.r = w, r
		s.principals = &principalCache{}
		if s.checkpoints, err = startCheckpointer(dsn); err != nil {
			return nil, fmt.Errorf("open sqlite checkpointer %s: %w", file, err)
		}
		s.startBatcher()
	case strings.HasPrefix(o.URL, "postgres://") || strings.HasPrefix(o.URL, "postgresql://"):
		s.dialect, s.url = Postgres, o.URL
		db, err := gorm.Open(postgres.Open(o.URL), cfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(20)
		s.w, s.r = db, db
		s.startBatcher() // feedback only (batch.go)
	default:
		return nil, fmt.Errorf("PLAYGATE_DB must be empty (SQLite) or a postgres:// URL")
	}
	if err := s.checkVersion(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) checkVersion(ctx context.Context) error {
	if s.dialect != SQLite {
		return s.Ping(ctx)
	}
	var v string
	if err := s.w.WithContext(ctx).Raw("SELECT sqlite_version()").Scan(&v).Error; err != nil {
		return fmt.Errorf("read sqlite version: %w", err)
	}
	if versionLess(v, minSQLite) {
		return fmt.Errorf("SQLite %s is too old: %s or newer is required (require modernc.org/sqlite v1.62.0 or newer)", v, minSQLite)
	}
	return nil
}

// versionLess compares dotted version numbers.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			fmt.Sscan(pa[i], &x)
		}
		if i < len(pb) {
			fmt.Sscan(pb[i], &y)
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// Pools are the database connection pools by name (writer and reader on
// SQLite, one pool on PostgreSQL), for metrics.
func (s *Store) Pools() map[string]*sql.DB {
	out := map[string]*sql.DB{}
	if db, err := s.w.DB(); err == nil {
		out["writer"] = db
	}
	if s.r != s.w {
		if db, err := s.r.DB(); err == nil {
			out["reader"] = db
		}
	} else if db, ok := out["writer"]; ok {
		out = map[string]*sql.DB{"pool": db}
	}
	return out
}

// Dialect tells which database is in use.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	db, err := s.r.DB()
	if err != nil {
		return err
	}
	return db.PingContext(ctx)
}

// Close closes both pools.
func (s *Store) Close() error {
	var errs []error
	if s.batch != nil {
		s.stopBatcher()
	}
	if s.checkpoints != nil {
		errs = append(errs, s.checkpoints.close())
		s.checkpoints = nil
	}
	for _, g := range []*gorm.DB{s.w, s.r} {
		if g == nil {
			continue
		}
		if db, err := g.DB(); err == nil {
			errs = append(errs, db.Close())
		}
		if s.w == s.r {
			break
		}
	}
	return errors.Join(errs...)
}

// DataVersion changes whenever this process commits a write, before the
// write's caller is answered: an answer computed from reads made after
// DataVersion returned v is current for as long as DataVersion returns v.
// ok is false on PostgreSQL, where other replicas write too.
func (s *Store) DataVersion() (v uint64, ok bool) {
	return s.version.Load(), s.dialect == SQLite
}

// SetClock replaces the store's clock; tests use it to move time.
func (s *Store) SetClock(now func() time.Time) { s.now = func() time.Time { return s.kept(now()) } }

// kept is t as the database keeps it: in UTC, and on PostgreSQL to the
// microsecond, so that an answer given from memory (a new item) matches
// the row read back (its retry, a list).
func (s *Store) kept(t time.Time) time.Time {
	if s.dialect == Postgres {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UTC()
}

// Now is the store's current time, in UTC.
func (s *Store) Now() time.Time { return s.now() }

// tx runs fn as one write transaction (on SQLite, in a savepoint of a
// group commit), then wakes the event streams. It returns once committed.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	if s.dialect == SQLite {
		return s.submit(ctx, fn)
	}
	if err := s.w.WithContext(ctx).Transaction(fn); err != nil {
		return err
	}
	s.committed()
	return nil
}

func (s *Store) read(ctx context.Context) *gorm.DB { return s.r.WithContext(ctx) }

// writerConn holds a connection of the writer's pool for the caller alone.
func (s *Store) writerConn(ctx context.Context) (*sql.Conn, error) {
	db, err := s.w.DB()
	if err != nil {
		return nil, err
	}
	return db.Conn(ctx)
}

// lockRow takes a row lock on PostgreSQL; on SQLite the immediate write
// transaction already serialises writers.
func (s *Store) lockRow(tx *gorm.DB, table string, id int64) error {
	if s.dialect != Postgres {
		return nil
	}
	var got int64
	return tx.Raw("SELECT id FROM "+table+" WHERE id = ? FOR UPDATE", id).Scan(&got).Error
}

// notFound turns gorm's missing-row error into ErrNotFound with a message.
func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return problem(ErrNotFound, "%s not found.", what)
	}
	return err
}

// isDuplicate reports a unique-constraint violation.
func isDuplicate(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }
