package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// migration is one step of the schema's history. Steps are never edited
// once released: a later change is a new step, so a database made by any
// earlier version upgrades in order.
type migration struct {
	version int
	name    string
	sql     string
	// perDialect, when set, replaces sql: statements that differ entirely
	// between the databases (full-text search), each one whole.
	perDialect map[Dialect][]string
	// after, when set, runs once the migration has committed, on the
	// databases it has statements for.
	after func(ctx context.Context, s *Store) error
}

// migrations is the schema's history. SQL uses {{pk}}, {{ts}}, {{real}} and
// {{created_day}} for the few things that differ between SQLite and PostgreSQL.
var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE users (
  id {{pk}},
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  disabled BOOLEAN NOT NULL DEFAULT FALSE,
  password_hash TEXT NOT NULL,
  created_at {{ts}} NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE TABLE sessions (
  id {{pk}},
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at {{ts}} NOT NULL,
  revoked_at {{ts}}
);
CREATE TABLE refresh_tokens (
  id {{pk}},
  session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at {{ts}} NOT NULL,
  used_at {{ts}},
  created_at {{ts}} NOT NULL
);
CREATE TABLE login_failures (
  id {{pk}},
  email TEXT NOT NULL,
  ip TEXT NOT NULL,
  at {{ts}} NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
CREATE TABLE products (
  id {{pk}},
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  production_build_id BIGINT,
  created_at {{ts}} NOT NULL
);
CREATE TABLE builds (
  id {{pk}},
  product_id BIGINT NOT NULL REFERENCES products (id),
  version TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  stage TEXT NOT NULL,
  access_url TEXT NOT NULL DEFAULT '',
  access_server TEXT NOT NULL DEFAULT '',
  access_key TEXT NOT NULL DEFAULT '',
  access_instructions TEXT NOT NULL DEFAULT '',
  closes_at {{ts}},
  policy_min_votes INTEGER NOT NULL,
  policy_revert_threshold {{real}} NOT NULL,
  policy_confidence {{real}} NOT NULL,
  policy_block_severity TEXT NOT NULL,
  created_at {{ts}} NOT NULL,
  promoted_at {{ts}},
  UNIQUE (product_id, version)
);
CREATE TABLE changes (
  id {{pk}},
  build_id BIGINT NOT NULL REFERENCES builds (id),
  "key" TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  area TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  decided_by BIGINT REFERENCES users (id),
  decided_at {{ts}},
  note TEXT NOT NULL DEFAULT '',
  evidence TEXT,
  created_at {{ts}} NOT NULL,
  UNIQUE (build_id, "key")
);
CREATE TABLE invites (
  id {{pk}},
  build_id BIGINT NOT NULL REFERENCES builds (id),
  email TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at {{ts}} NOT NULL,
  created_by BIGINT NOT NULL REFERENCES users (id),
  created_at {{ts}} NOT NULL,
  redeemed_at {{ts}},
  redeemed_by BIGINT REFERENCES users (id),
  revoked_at {{ts}}
);
CREATE INDEX invites_build ON invites (build_id, id);
CREATE TABLE grants (
  id {{pk}},
  build_id BIGINT NOT NULL REFERENCES builds (id),
  user_id BIGINT NOT NULL REFERENCES users (id),
  invite_id BIGINT REFERENCES invites (id),
  created_at {{ts}} NOT NULL,
  revoked_at {{ts}},
  UNIQUE (user_id, build_id)
);
CREATE INDEX grants_build ON grants (build_id, user_id);
CREATE TABLE votes (
  id {{pk}},
  change_id BIGINT NOT NULL REFERENCES changes (id),
  build_id BIGINT NOT NULL REFERENCES builds (id),
  tester_id BIGINT NOT NULL REFERENCES users (id),
  vote TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL,
  UNIQUE (change_id, tester_id)
);
CREATE INDEX votes_build_tester ON votes (build_id, tester_id);
CREATE TABLE feedback (
  id {{pk}},
  build_id BIGINT NOT NULL REFERENCES builds (id),
  change_id BIGINT REFERENCES changes (id),
  tester_id BIGINT NOT NULL REFERENCES users (id),
  kind TEXT NOT NULL,
  severity TEXT,
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  platform_os TEXT NOT NULL DEFAULT '',
  platform_device TEXT NOT NULL DEFAULT '',
  platform_client_version TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  duplicate_of BIGINT REFERENCES feedback (id),
  idempotency_key TEXT,
  comment_count INTEGER NOT NULL DEFAULT 0,
  attachment_count INTEGER NOT NULL DEFAULT 0,
  last_staff_reply_at {{ts}},
  created_at {{ts}} NOT NULL,
  updated_at {{ts}} NOT NULL
);
CREATE INDEX feedback_build ON feedback (build_id, id);
CREATE INDEX feedback_tester ON feedback (tester_id, build_id, id);
CREATE UNIQUE INDEX feedback_idempotency ON feedback (tester_id, idempotency_key);
CREATE TABLE comments (
  id {{pk}},
  feedback_id BIGINT NOT NULL REFERENCES feedback (id),
  author_id BIGINT NOT NULL REFERENCES users (id),
  staff BOOLEAN NOT NULL,
  body TEXT NOT NULL,
  created_at {{ts}} NOT NULL
);
CREATE INDEX comments_feedback ON comments (feedback_id, id);
CREATE TABLE attachments (
  id {{pk}},
  feedback_id BIGINT NOT NULL REFERENCES feedback (id),
  content_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  path TEXT NOT NULL,
  created_at {{ts}} NOT NULL
);
CREATE INDEX attachments_feedback ON attachments (feedback_id);
CREATE TABLE audit_events (
  id {{pk}},
  at {{ts}} NOT NULL,
  actor_id BIGINT,
  action TEXT NOT NULL,
  subject_type TEXT NOT NULL,
  subject_id BIGINT,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_subject ON audit_events (subject_type, subject_id, id);
CREATE INDEX audit_actor ON audit_events (actor_id, id);
`, nil, nil},
	{2, "report aggregates", `
ALTER TABLE changes ADD COLUMN keep_votes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN revert_votes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN open_low INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN open_medium INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN open_high INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN open_critical INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN feedback_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN bugs_low INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN bugs_medium INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN bugs_high INTEGER NOT NULL DEFAULT 0;
ALTER TABLE builds ADD COLUMN bugs_critical INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN feedback_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN vote_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE grants ADD COLUMN last_active_at {{ts}};
` + recountV2SQL, nil, nil},
	{3, "release workflow and live events", `
ALTER TABLE builds ADD COLUMN staged_over BIGINT;
ALTER TABLE builds ADD COLUMN replaced_build_id BIGINT;
CREATE TABLE feedback_days (
  build_id BIGINT NOT NULL REFERENCES builds (id),
  day TEXT NOT NULL,
  feedback INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (build_id, day)
);
INSERT INTO feedback_days (build_id, day, feedback)
  SELECT build_id, {{created_day}}, COUNT(*) FROM feedback GROUP BY build_id, {{created_day}};
CREATE TABLE build_events (
  id {{pk}},
  build_id BIGINT NOT NULL,
  type TEXT NOT NULL,
  data TEXT NOT NULL,
  at {{ts}} NOT NULL
);
CREATE INDEX build_events_build ON build_events (build_id, id);
ALTER TABLE feedback ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
CREATE INDEX feedback_duplicate_of ON feedback (duplicate_of);
CREATE INDEX feedback_change ON feedback (change_id, id);
` + recountV3SQL, nil, nil},
	{4, "rate limit counters", `
CREATE TABLE rate_counters (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  expires_at {{ts}} NOT NULL
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);
`, nil, nil},
	{5, "webhooks and their outbox", `
CREATE TABLE webhooks (
  id {{pk}},
  product_id BIGINT NOT NULL REFERENCES products (id),
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  secret TEXT NOT NULL,
  format TEXT NOT NULL,
  created_by BIGINT NOT NULL REFERENCES users (id),
  created_at {{ts}} NOT NULL,
  deleted_at {{ts}}
);
CREATE INDEX webhooks_product ON webhooks (product_id);
CREATE TABLE outbox (
  id {{pk}},
  webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at {{ts}} NOT NULL,
  next_attempt_at {{ts}} NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  delivered_at {{ts}},
  failed_at {{ts}}
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE TABLE webhook_deliveries (
  id {{pk}},
  outbox_id BIGINT NOT NULL REFERENCES outbox (id),
  webhook_id BIGINT NOT NULL REFERENCES webhooks (id),
  event TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at {{ts}} NOT NULL,
  status_code INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  duration_ms INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, id);
`, nil, nil},
	{version: 6, name: "full-text search of feedback", perDialect: map[Dialect][]string{
		SQLite: {
			`CREATE VIRTUAL TABLE feedback_fts USING fts5(title, body, content='feedback', content_rowid='id', tokenize='unicode61 remove_diacritics 2')`,
			`CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback BEGIN
			   INSERT INTO feedback_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
			 END`,
			`CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback BEGIN
			   INSERT INTO feedback_fts (feedback_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
			 END`,
			`CREATE TRIGGER feedback_fts_update AFTER UPDATE OF title, body ON feedback BEGIN
			   INSERT INTO feedback_fts (feedback_fts, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
			   INSERT INTO feedback_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
			 END`,
			`INSERT INTO feedback_fts (feedback_fts) VALUES ('rebuild')`,
		},
		Postgres: {
			`ALTER TABLE feedback ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || body)) STORED`,
			`CREATE INDEX feedback_search ON feedback USING GIN (search)`,
		},
	}},
	{7, "indexes for the feedback filters", `
CREATE INDEX feedback_build_kind ON feedback (build_id, kind, id);
CREATE INDEX feedback_build_severity ON feedback (build_id, severity, id);
CREATE INDEX feedback_build_status ON feedback (build_id, status, id);
`, nil, nil},
	// FTS5 merges its index segments as it writes them (automerge); a merge
	// of larger segments now and then held the writer for 10-30 ms. The
	// writer merges a few pages at each batch instead (ftsMergePages).
	{version: 8, name: "full-text merges in small steps", perDialect: map[Dialect][]string{
		SQLite: {`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('automerge', 0)`},
	}},
	// Those steps merge 16 segments of a level at once instead of 4: every
	// entry of the index is rewritten about half as often (a level of 16
	// holds what two levels of 4 do), and the writer files 4-17 % more bug
	// reports a second (issue 6, seventh round). A search reads up to 15
	// segments a level instead of 3. FTS5's own merge of a level in one go
	// (crisismerge) would now come first, at 16 segments, and hold the
	// writer 200-270 ms: it waits for 64, which the steps never let a
	// level reach while they keep up (they merge 32 pages a batch, for the
	// 2 or so a batch adds to the index).
	{version: 9, name: "full-text merges of 16 segments", perDialect: map[Dialect][]string{
		SQLite: {`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('usermerge', 16)`,
			`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('crisismerge', 64)`},
	}},
	// The words of the full-text index, for a search to list the words a
	// prefix stands for (expandPrefixes). A view of the index, no storage.
	{version: 10, name: "the full-text index's words", perDialect: map[Dialect][]string{
		SQLite: {`CREATE VIRTUAL TABLE feedback_fts_terms USING fts5vocab(feedback_fts, instance)`},
	}},
	// Most items have no idempotency key (the web UI sends none) and are
	// no duplicate: their index entries were never read, yet written with
	// every item, and sorted with every seed (a million items: 1.4 of
	// 12 s). A look-up by key or duplicate_of says the value is not NULL.
	{version: 11, name: "partial indexes of keys and duplicates", sql: `
DROP INDEX feedback_idempotency;
CREATE UNIQUE INDEX feedback_idempotency ON feedback (tester_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
DROP INDEX feedback_duplicate_of;
CREATE INDEX feedback_duplicate_of ON feedback (duplicate_of) WHERE duplicate_of IS NOT NULL;
`},
	// The full-text index gets a column of tags, words for the values of
	// the list's filters (search.go), kept by the triggers as the item's
	// filter columns change. Its content is a view that reads the tags off
	// the item's columns, for FTS5 to rebuild the index from. The settings
	// of migrations 8 and 9 and the words' view of migration 10 go with
	// the table, and come back. The index keeps no sizes of the items'
	// columns (columnsize=0), which only a ranking of matches (bm25) reads
	// and Playgate lists newest first: a row less to write with each item.
	// The index is rebuilt once: about 6 s at a million items, before the
	// server answers.
	{version: 12, name: "filter tags in the full-text index", perDialect: map[Dialect][]string{
		SQLite: {
			`DROP TRIGGER feedback_fts_insert`,
			`DROP TRIGGER feedback_fts_delete`,
			`DROP TRIGGER feedback_fts_update`,
			`DROP TABLE feedback_fts_terms`,
			`DROP TABLE feedback_fts`,
			`CREATE VIEW feedback_fts_content AS SELECT id, title, body, ` + searchTagsSQL("feedback") + ` AS tags FROM feedback`,
			`CREATE VIRTUAL TABLE feedback_fts USING fts5(title, body, tags, content='feedback_fts_content', content_rowid='id', columnsize=0, tokenize='unicode61 remove_diacritics 2')`,
			`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('automerge', 0)`,
			`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('usermerge', 16)`,
			`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('crisismerge', 64)`,
			`CREATE VIRTUAL TABLE feedback_fts_terms USING fts5vocab(feedback_fts, instance)`,
			`CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback BEGIN
			   INSERT INTO feedback_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, ` + searchTagsSQL("new") + `);
			 END`,
			`CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback BEGIN
			   INSERT INTO feedback_fts (feedback_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, ` + searchTagsSQL("old") + `);
			 END`,
			`CREATE TRIGGER feedback_fts_update AFTER UPDATE OF title, body, kind, status, severity ON feedback BEGIN
			   INSERT INTO feedback_fts (feedback_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, ` + searchTagsSQL("old") + `);
			   INSERT INTO feedback_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, ` + searchTagsSQL("new") + `);
			 END`,
			// As the seed does (rebuildFTS), with less memory: FTS5 gathers
			// the words of a million items in a few segments, not hundreds
			// merged again and again. Measured at a million items, start to
			// ready: 64 MiB 5.7-5.9 s and 132 MiB of peak RSS, 256 MiB 6.5 s
			// and 247 MiB, FTS5's 1 MiB 8.5 s.
			`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('hashsize', ` + strconv.Itoa(64<<20) + `)`,
			`INSERT INTO feedback_fts (feedback_fts) VALUES ('rebuild')`,
			`INSERT INTO feedback_fts (feedback_fts, rank) VALUES ('hashsize', 1048576)`, // FTS5's default, which it keeps
			`DELETE FROM feedback_fts_config WHERE k = 'hashsize'`,
		},
	}, after: func(ctx context.Context, s *Store) error { return s.raiseFTS(ctx, "feedback_fts") }},
	// Items reach the full-text index after their batch, in catch-ups
	// (ftsindex.go): the index holds the items up to indexed_through, and
	// the triggers act only on those. An item inserted at or below the mark
	// (not done by Playgate, whose ids only grow) is indexed at once.
	{version: 13, name: "full-text index behind the writes", perDialect: map[Dialect][]string{
		SQLite: {
			`CREATE TABLE feedback_fts_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_through INTEGER NOT NULL)`,
			`INSERT INTO feedback_fts_state (id, indexed_through) SELECT 1, COALESCE(MAX(id), 0) FROM feedback`,
			`DROP TRIGGER feedback_fts_insert`,
			`DROP TRIGGER feedback_fts_delete`,
			`DROP TRIGGER feedback_fts_update`,
			`CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback
			   WHEN new.id <= (SELECT indexed_through FROM feedback_fts_state) BEGIN
			   INSERT INTO feedback_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, ` + searchTagsSQL("new") + `);
			 END`,
			`CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback
			   WHEN old.id <= (SELECT indexed_through FROM feedback_fts_state) BEGIN
			   INSERT INTO feedback_fts (feedback_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, ` + searchTagsSQL("old") + `);
			 END`,
			`CREATE TRIGGER feedback_fts_update AFTER UPDATE OF title, body, kind, status, severity ON feedback
			   WHEN old.id <= (SELECT indexed_through FROM feedback_fts_state) BEGIN
			   INSERT INTO feedback_fts (feedback_fts, rowid, title, body, tags) VALUES ('delete', old.id, old.title, old.body, ` + searchTagsSQL("old") + `);
			   INSERT INTO feedback_fts (rowid, title, body, tags) VALUES (new.id, new.title, new.body, ` + searchTagsSQL("new") + `);
			 END`,
		},
	}},
	// The audit log's index by actor leaves out the events of new feedback
	// items, which the feedback table's index by tester finds (audit.go).
	{version: 14, name: "audit index by actor without new feedback", sql: `
DROP INDEX audit_actor;
CREATE INDEX audit_actor ON audit_events (actor_id, id) WHERE action <> 'feedback.created';
`},
}

// recountV2SQL rebuilds the aggregates of schema version 2 from the raw rows
// (migration 2's backfill: frozen, as migrations are).
const recountV2SQL = `
UPDATE changes SET
  keep_votes = (SELECT COUNT(*) FROM votes v JOIN grants g ON g.user_id = v.tester_id AND g.build_id = v.build_id AND g.revoked_at IS NULL WHERE v.change_id = changes.id AND v.vote = 'keep'),
  revert_votes = (SELECT COUNT(*) FROM votes v JOIN grants g ON g.user_id = v.tester_id AND g.build_id = v.build_id AND g.revoked_at IS NULL WHERE v.change_id = changes.id AND v.vote = 'revert'),
  open_low = (SELECT COUNT(*) FROM feedback f WHERE f.change_id = changes.id AND f.kind = 'bug' AND f.severity = 'low' AND f.status IN ('new', 'acknowledged', 'in_progress')),
  open_medium = (SELECT COUNT(*) FROM feedback f WHERE f.change_id = changes.id AND f.kind = 'bug' AND f.severity = 'medium' AND f.status IN ('new', 'acknowledged', 'in_progress')),
  open_high = (SELECT COUNT(*) FROM feedback f WHERE f.change_id = changes.id AND f.kind = 'bug' AND f.severity = 'high' AND f.status IN ('new', 'acknowledged', 'in_progress')),
  open_critical = (SELECT COUNT(*) FROM feedback f WHERE f.change_id = changes.id AND f.kind = 'bug' AND f.severity = 'critical' AND f.status IN ('new', 'acknowledged', 'in_progress'));
UPDATE builds SET
  feedback_count = (SELECT COUNT(*) FROM feedback f WHERE f.build_id = builds.id),
  bugs_low = (SELECT COUNT(*) FROM feedback f WHERE f.build_id = builds.id AND f.kind = 'bug' AND f.severity = 'low'),
  bugs_medium = (SELECT COUNT(*) FROM feedback f WHERE f.build_id = builds.id AND f.kind = 'bug' AND f.severity = 'medium'),
  bugs_high = (SELECT COUNT(*) FROM feedback f WHERE f.build_id = builds.id AND f.kind = 'bug' AND f.severity = 'high'),
  bugs_critical = (SELECT COUNT(*) FROM feedback f WHERE f.build_id = builds.id AND f.kind = 'bug' AND f.severity = 'critical');
UPDATE grants SET
  feedback_count = (SELECT COUNT(*) FROM feedback f WHERE f.build_id = grants.build_id AND f.tester_id = grants.user_id),
  vote_count = (SELECT COUNT(*) FROM votes v WHERE v.build_id = grants.build_id AND v.tester_id = grants.user_id),
  last_active_at = (SELECT MAX(t) FROM (
    SELECT MAX(f.created_at) AS t FROM feedback f WHERE f.build_id = grants.build_id AND f.tester_id = grants.user_id
    UNION ALL SELECT MAX(v.updated_at) FROM votes v WHERE v.build_id = grants.build_id AND v.tester_id = grants.user_id) AS a);
`

// recountV3SQL rebuilds the aggregates migration 3 added.
const recountV3SQL = `
UPDATE feedback SET duplicates = (SELECT COUNT(*) FROM feedback d WHERE d.duplicate_of = feedback.id);
`

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

func (s *Store) render(sql string) string {
	r := strings.NewReplacer("{{pk}}", "INTEGER PRIMARY KEY AUTOINCREMENT", "{{ts}}", "DATETIME", "{{real}}", "REAL",
		"{{created_day}}", "SUBSTR(created_at, 1, 10)")
	if s.dialect == Postgres {
		r = strings.NewReplacer("{{pk}}", "BIGSERIAL PRIMARY KEY", "{{ts}}", "TIMESTAMPTZ", "{{real}}", "DOUBLE PRECISION",
			"{{created_day}}", "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
	}
	return r.Replace(sql)
}

// Version reads the schema version the database is at (0 when empty).
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.w.WithContext(ctx).Raw("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&v).Error
	return v, err
}

// Migrate applies every pending migration, each in its own transaction.
// Replicas starting together on PostgreSQL take turns through an advisory lock.
func (s *Store) Migrate(ctx context.Context) error {
	create := s.render(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at {{ts}} NOT NULL)`)
	if err := s.w.WithContext(ctx).Exec(create).Error; err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := s.Version(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if current > SchemaVersion() {
		return fmt.Errorf("the database is at schema version %d, newer than this binary's %d: upgrade Playgate", current, SchemaVersion())
	}
	for _, m := range migrations {
		applied := false
		err := s.tx(ctx, func(tx *gorm.DB) error {
			if s.dialect == Postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(7340021)").Error; err != nil {
					return err
				}
			}
			var done int64
			if err := tx.Raw("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&done).Error; err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			stmts := splitSQL(s.render(m.sql))
			if m.perDialect != nil {
				stmts = m.perDialect[s.dialect]
			}
			for _, stmt := range stmts {
				if err := tx.Exec(stmt).Error; err != nil {
					return fmt.Errorf("%.60s…: %w", stmt, err)
				}
			}
			applied = true
			return tx.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, s.now()).Error
		})
		if err == nil && applied && m.after != nil && (m.perDialect == nil || m.perDialect[s.dialect] != nil) {
			err = m.after(ctx, s)
		}
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func splitSQL(sql string) []string {
	var out []string
	for _, stmt := range strings.Split(sql, ";") {
		if strings.TrimSpace(stmt) != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// Recount rebuilds every aggregate from the raw rows (an operator's repair
// tool, and the reference the aggregate tests compare against).
func (s *Store) Recount(ctx context.Context) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		for _, stmt := range splitSQL(recountV2SQL + recountV3SQL) {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("recount: %w", err)
			}
		}
		return nil
	})
}
