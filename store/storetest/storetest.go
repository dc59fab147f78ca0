// Package storetest gives tests a fresh, empty database: SQLite in a
// temporary folder, or a new PostgreSQL schema (dropped afterwards) when
// PLAYGATE_TEST_POSTGRES names a server.
package storetest

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"playgate/store"
)

// PostgresURL is the server PLAYGATE_TEST_POSTGRES names ("" when none).
func PostgresURL() string { return os.Getenv("PLAYGATE_TEST_POSTGRES") }

// Options are the store options of a fresh database for one test.
func Options(t testing.TB) store.Options {
	t.Helper()
	opts := store.Options{DataDir: t.TempDir()}
	if base := PostgresURL(); base != "" {
		opts.URL = Schema(t, base)
	}
	return opts
}

// Schema makes a new schema on the PostgreSQL server at base and returns a
// URL that uses it; the schema is dropped when the test ends (cleanups run
// last-registered first, so call this before starting anything that uses it).
func Schema(t testing.TB, base string) string {
	t.Helper()
	raw := make([]byte, 8)
	_, _ = rand.Read(raw)
	schema := "t_" + hex.EncodeToString(raw)
	admin, err := gorm.Open(postgres.Open(base), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("connect to PLAYGATE_TEST_POSTGRES: %v", err)
	}
	if err := admin.Exec("CREATE SCHEMA " + schema).Error; err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		if db, err := admin.DB(); err == nil {
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("PLAYGATE_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
