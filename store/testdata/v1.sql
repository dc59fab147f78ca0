-- A Playgate database at schema version 1: the schema made by migration 1 of
-- store/migrate.go, its schema_migrations row, and the rows of v1Seed in
-- store/migrate_test.go. Generated; do not edit. To make it again:
--   go test ./store -run TestMigrateFromV1 -update-v1
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DATETIME NOT NULL);
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  disabled BOOLEAN NOT NULL DEFAULT FALSE,
  password_hash TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at DATETIME NOT NULL,
  revoked_at DATETIME
);
CREATE TABLE refresh_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id BIGINT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at DATETIME NOT NULL,
  used_at DATETIME,
  created_at DATETIME NOT NULL
);
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL,
  ip TEXT NOT NULL,
  at DATETIME NOT NULL
);
CREATE INDEX login_failures_email ON login_failures (email, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
CREATE TABLE products (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  production_build_id BIGINT,
  created_at DATETIME NOT NULL
);
CREATE TABLE builds (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  product_id BIGINT NOT NULL REFERENCES products (id),
  version TEXT NOT NULL,
  notes TEXT NOT NULL DEFAULT '',
  stage TEXT NOT NULL,
  access_url TEXT NOT NULL DEFAULT '',
  access_server TEXT NOT NULL DEFAULT '',
  access_key TEXT NOT NULL DEFAULT '',
  access_instructions TEXT NOT NULL DEFAULT '',
  closes_at DATETIME,
  policy_min_votes INTEGER NOT NULL,
  policy_revert_threshold REAL NOT NULL,
  policy_confidence REAL NOT NULL,
  policy_block_severity TEXT NOT NULL,
  created_at DATETIME NOT NULL,
  promoted_at DATETIME,
  UNIQUE (product_id, version)
);
CREATE TABLE changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  build_id BIGINT NOT NULL REFERENCES builds (id),
  "key" TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  area TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  decided_by BIGINT REFERENCES users (id),
  decided_at DATETIME,
  note TEXT NOT NULL DEFAULT '',
  evidence TEXT,
  created_at DATETIME NOT NULL,
  UNIQUE (build_id, "key")
);
CREATE TABLE invites (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  build_id BIGINT NOT NULL REFERENCES builds (id),
  email TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  expires_at DATETIME NOT NULL,
  created_by BIGINT NOT NULL REFERENCES users (id),
  created_at DATETIME NOT NULL,
  redeemed_at DATETIME,
  redeemed_by BIGINT REFERENCES users (id),
  revoked_at DATETIME
);
CREATE INDEX invites_build ON invites (build_id, id);
CREATE TABLE grants (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  build_id BIGINT NOT NULL REFERENCES builds (id),
  user_id BIGINT NOT NULL REFERENCES users (id),
  invite_id BIGINT REFERENCES invites (id),
  created_at DATETIME NOT NULL,
  revoked_at DATETIME,
  UNIQUE (user_id, build_id)
);
CREATE INDEX grants_build ON grants (build_id, user_id);
CREATE TABLE votes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  change_id BIGINT NOT NULL REFERENCES changes (id),
  build_id BIGINT NOT NULL REFERENCES builds (id),
  tester_id BIGINT NOT NULL REFERENCES users (id),
  vote TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  UNIQUE (change_id, tester_id)
);
CREATE INDEX votes_build_tester ON votes (build_id, tester_id);
CREATE TABLE feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
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
  last_staff_reply_at DATETIME,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);
CREATE INDEX feedback_build ON feedback (build_id, id);
CREATE INDEX feedback_tester ON feedback (tester_id, build_id, id);
CREATE UNIQUE INDEX feedback_idempotency ON feedback (tester_id, idempotency_key);
CREATE TABLE comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  feedback_id BIGINT NOT NULL REFERENCES feedback (id),
  author_id BIGINT NOT NULL REFERENCES users (id),
  staff BOOLEAN NOT NULL,
  body TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX comments_feedback ON comments (feedback_id, id);
CREATE TABLE attachments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  feedback_id BIGINT NOT NULL REFERENCES feedback (id),
  content_type TEXT NOT NULL,
  size BIGINT NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  path TEXT NOT NULL,
  created_at DATETIME NOT NULL
);
CREATE INDEX attachments_feedback ON attachments (feedback_id);
CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at DATETIME NOT NULL,
  actor_id BIGINT,
  action TEXT NOT NULL,
  subject_type TEXT NOT NULL,
  subject_id BIGINT,
  detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_subject ON audit_events (subject_type, subject_id, id);
CREATE INDEX audit_actor ON audit_events (actor_id, id);
INSERT INTO "users" VALUES(1,'admin@example.com','Ada Admin','admin',0,'$argon2id$v=19$m=19456,t=2,p=1$6etpyeqaZvkTazndPNTXQA$k/kp5D+REdn1AdhLj2oUZK7ODtLetKqD/Y5c+cxvZVM','2025-03-01 09:00:00+00:00');
INSERT INTO "users" VALUES(2,'rm@example.com','Rita Release','release_manager',0,'$argon2id$v=19$m=19456,t=2,p=1$6etpyeqaZvkTazndPNTXQA$k/kp5D+REdn1AdhLj2oUZK7ODtLetKqD/Y5c+cxvZVM','2025-03-01 09:01:00+00:00');
INSERT INTO "users" VALUES(3,'t1@example.com','Tom One','tester',0,'$argon2id$v=19$m=19456,t=2,p=1$6etpyeqaZvkTazndPNTXQA$k/kp5D+REdn1AdhLj2oUZK7ODtLetKqD/Y5c+cxvZVM','2025-03-01 09:02:00+00:00');
INSERT INTO "users" VALUES(4,'t2@example.com','Tia Two','tester',0,'$argon2id$v=19$m=19456,t=2,p=1$6etpyeqaZvkTazndPNTXQA$k/kp5D+REdn1AdhLj2oUZK7ODtLetKqD/Y5c+cxvZVM','2025-03-01 09:03:00+00:00');
INSERT INTO "users" VALUES(5,'t3@example.com','Theo Three','tester',0,'$argon2id$v=19$m=19456,t=2,p=1$6etpyeqaZvkTazndPNTXQA$k/kp5D+REdn1AdhLj2oUZK7ODtLetKqD/Y5c+cxvZVM','2025-03-01 09:04:00+00:00');
INSERT INTO "users" VALUES(6,'t4@example.com','Tara Four','tester',1,'$argon2id$v=19$m=19456,t=2,p=1$6etpyeqaZvkTazndPNTXQA$k/kp5D+REdn1AdhLj2oUZK7ODtLetKqD/Y5c+cxvZVM','2025-03-01 09:05:00+00:00');
INSERT INTO "sessions" VALUES(1,3,'2025-03-02 10:00:00+00:00',NULL);
INSERT INTO "sessions" VALUES(2,6,'2025-03-02 10:30:00+00:00','2025-03-03 09:00:00+00:00');
INSERT INTO "refresh_tokens" VALUES(1,1,'2963df630d990500513f276c87a513b57768bb6c2f0622a7d01b42caf5976a0e','2099-01-01 00:00:00+00:00','2025-03-02 10:05:00+00:00','2025-03-02 10:00:00+00:00');
INSERT INTO "refresh_tokens" VALUES(2,1,'60b22cfb420e3378d89799105a11e2ad4430f7035993c7bb34fc8a16bd145bfb','2099-01-01 00:00:00+00:00',NULL,'2025-03-02 10:05:00+00:00');
INSERT INTO "refresh_tokens" VALUES(3,2,'d7e4024bc1a3dc4adb88a0d00152864d8a22e724570f4308a1b9c06a59bd7caf','2099-01-01 00:00:00+00:00',NULL,'2025-03-02 10:30:00+00:00');
INSERT INTO "login_failures" VALUES(1,'t2@example.com','192.0.2.10','2025-03-02 11:00:00+00:00');
INSERT INTO "products" VALUES(1,'Star Drifter','star-drifter',NULL,'2025-03-01 09:10:00+00:00');
INSERT INTO "builds" VALUES(1,1,'1.0.0','First QC','qc','https://dl.example.com/1.0.zip','qc.example.com:7777','KEY-1','Unzip, run','2025-04-01 00:00:00+00:00',5,0.3,0.95,'critical','2025-03-01 09:20:00+00:00',NULL);
INSERT INTO "builds" VALUES(2,1,'1.1.0','','qc','','','','',NULL,3,0.25,0.9,'high','2025-03-05 09:00:00+00:00',NULL);
INSERT INTO "changes" VALUES(1,1,'PG-1','Faster matchmaking','','network','pending',NULL,NULL,'',NULL,'2025-03-01 09:30:00+00:00');
INSERT INTO "changes" VALUES(2,1,'PG-2','New map','The harbour map','maps','approved',2,'2025-03-04 12:00:00+00:00','Looks good','{"votes":{"keep":0,"revert":1}}','2025-03-01 09:31:00+00:00');
INSERT INTO "changes" VALUES(3,1,'PG-3','Quiet change','','','pending',NULL,NULL,'',NULL,'2025-03-01 09:32:00+00:00');
INSERT INTO "changes" VALUES(4,2,'PG-1','Same key, next build','','','pending',NULL,NULL,'',NULL,'2025-03-05 09:10:00+00:00');
INSERT INTO "invites" VALUES(1,1,'t1@example.com','f1d15f7542817cc8d1697ff1da226c008fd3d085dabb42ea1811e19b50e00f9b','2025-03-04 10:00:00+00:00',1,'2025-03-01 10:00:00+00:00','2025-03-01 11:00:00+00:00',3,NULL);
INSERT INTO "invites" VALUES(2,1,'t2@example.com','4b99fc158093da9eb70d1525ef49b0944a7bd58c8f16b6d916e4733147b3888e','2025-03-04 10:00:00+00:00',1,'2025-03-01 10:01:00+00:00','2025-03-01 11:01:00+00:00',4,NULL);
INSERT INTO "invites" VALUES(3,1,'t3@example.com','6e8850a30546d7ac82b2d671a20498cd1854b149c724732450e79a74e3b06cf2','2025-03-04 10:00:00+00:00',2,'2025-03-01 10:02:00+00:00','2025-03-01 11:02:00+00:00',5,NULL);
INSERT INTO "invites" VALUES(4,1,'pending@example.com','a85569fbb4276a4c2fa8d89d55c66f0f5d8f064335cdf04dad7dc2b5d36c2771','2099-01-01 00:00:00+00:00',2,'2025-03-01 10:03:00+00:00',NULL,NULL,NULL);
INSERT INTO "invites" VALUES(5,1,'revoked@example.com','eabd4c99894986956a20c4fa5ec9b6789dbb503629a845c28792e98bc08dc3ff','2099-01-01 00:00:00+00:00',1,'2025-03-01 10:04:00+00:00',NULL,NULL,'2025-03-02 09:00:00+00:00');
INSERT INTO "invites" VALUES(6,2,'t1@example.com','e2f7ca19e90fd62eec6d55c1f007de096547f800eb4395fd273fff49e11b533a','2025-03-08 10:00:00+00:00',2,'2025-03-05 09:30:00+00:00','2025-03-05 10:00:00+00:00',3,NULL);
INSERT INTO "grants" VALUES(1,1,3,1,'2025-03-01 11:00:00+00:00',NULL);
INSERT INTO "grants" VALUES(2,1,4,2,'2025-03-01 11:01:00+00:00',NULL);
INSERT INTO "grants" VALUES(3,1,5,3,'2025-03-01 11:02:00+00:00','2025-03-03 09:00:00+00:00');
INSERT INTO "grants" VALUES(4,2,3,6,'2025-03-05 10:00:00+00:00',NULL);
INSERT INTO "votes" VALUES(1,1,1,3,'keep','','2025-03-02 12:00:00+00:00','2025-03-02 12:00:00+00:00');
INSERT INTO "votes" VALUES(2,1,1,4,'revert','Feels slower','2025-03-02 12:05:00+00:00','2025-03-02 13:00:00+00:00');
INSERT INTO "votes" VALUES(3,1,1,5,'revert','','2025-03-02 12:10:00+00:00','2025-03-02 12:10:00+00:00');
INSERT INTO "votes" VALUES(4,2,1,3,'revert','','2025-03-02 14:00:00+00:00','2025-03-03 08:00:00+00:00');
INSERT INTO "votes" VALUES(5,4,2,3,'keep','','2025-03-05 11:00:00+00:00','2025-03-05 11:00:00+00:00');
INSERT INTO "feedback" VALUES(1,1,1,3,'bug','critical','Crash in matchmaking','Every time I queue','Windows 11','PC','1.0.0','new',NULL,'key-1',2,1,'2025-03-02 16:00:00+00:00','2025-03-02 15:00:00+00:00','2025-03-02 16:30:00+00:00');
INSERT INTO "feedback" VALUES(2,1,1,4,'bug','critical','Crash on join','','','','','resolved',NULL,NULL,0,0,NULL,'2025-03-02 15:30:00+00:00','2025-03-03 10:00:00+00:00');
INSERT INTO "feedback" VALUES(3,1,2,4,'bug','high','Hole in the harbour map','','','','','in_progress',NULL,NULL,0,0,NULL,'2025-03-02 15:40:00+00:00','2025-03-02 15:40:00+00:00');
INSERT INTO "feedback" VALUES(4,1,NULL,3,'bug','low','Typo in the credits','','','','','new',NULL,NULL,0,0,NULL,'2025-03-02 15:50:00+00:00','2025-03-02 15:50:00+00:00');
INSERT INTO "feedback" VALUES(5,1,1,3,'suggestion',NULL,'Show the ping','','','','','acknowledged',NULL,NULL,0,0,NULL,'2025-03-02 17:00:00+00:00','2025-03-02 17:00:00+00:00');
INSERT INTO "feedback" VALUES(6,1,1,4,'bug','medium','Crash in matchmaking again','','','','','duplicate',1,NULL,0,0,NULL,'2025-03-02 18:00:00+00:00','2025-03-02 18:30:00+00:00');
INSERT INTO "feedback" VALUES(7,2,NULL,3,'praise',NULL,'Love 1.1','So smooth','','','','new',NULL,NULL,0,0,NULL,'2025-03-05 12:00:00+00:00','2025-03-05 12:00:00+00:00');
INSERT INTO "comments" VALUES(1,1,2,1,'Which region?','2025-03-02 16:00:00+00:00');
INSERT INTO "comments" VALUES(2,1,3,0,'EU west','2025-03-02 16:30:00+00:00');
INSERT INTO "attachments" VALUES(1,1,'image/png',1234,640,360,'attachments/0123456789abcdef0123456789abcdef.png','2025-03-02 15:01:00+00:00');
INSERT INTO "audit_events" VALUES(1,'2025-03-01 09:00:00+00:00',NULL,'user.created','user',1,'{"email":"admin@example.com","role":"admin"}');
INSERT INTO "audit_events" VALUES(2,'2025-03-02 11:00:00+00:00',NULL,'auth.login_failed','user',4,'{"email":"t2@example.com","ip":"192.0.2.10"}');
INSERT INTO "audit_events" VALUES(3,'2025-03-02 15:00:00+00:00',3,'feedback.created','feedback',1,'{"build_id":1,"kind":"bug"}');
INSERT INTO "schema_migrations" VALUES(1,'initial schema','2025-03-01 08:00:00+00:00');
COMMIT;
