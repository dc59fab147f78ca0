package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "jwt")
	password := filepath.Join(dir, "admin")
	os.WriteFile(secret, []byte("a-jwt-secret-of-at-least-32-bytes-long\n"), 0o600)
	os.WriteFile(password, []byte("admin-password-from-a-file\n"), 0o600)
	t.Setenv("PLAYGATE_JWT_SECRET_FILE", secret)
	t.Setenv("PLAYGATE_ADMIN_PASSWORD_FILE", password)
	c, _, err := loadConfig("serve", nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.JWTSecret != "a-jwt-secret-of-at-least-32-bytes-long" || c.AdminPassword != "admin-password-from-a-file" {
		t.Fatalf("secrets from files: %q %q", c.JWTSecret, c.AdminPassword)
	}
	t.Setenv("PLAYGATE_JWT_SECRET_FILE", filepath.Join(dir, "missing"))
	if _, _, err := loadConfig("serve", nil, io.Discard); err == nil || !strings.Contains(err.Error(), "PLAYGATE_JWT_SECRET_FILE") {
		t.Fatalf("a missing secret file: %v", err)
	}
	os.WriteFile(secret, []byte("short"), 0o600)
	t.Setenv("PLAYGATE_JWT_SECRET_FILE", secret)
	if _, _, err := loadConfig("serve", nil, io.Discard); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Fatalf("a short secret from a file: %v", err)
	}
}
