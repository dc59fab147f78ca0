package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"playgate/handlers"
	"playgate/mailer"
)

// config is every setting of the binary: defaults, then environment
// variables, then flags (flags win).
type config struct {
	Addr            string
	Data            string
	DB              string
	AdminEmail      string
	AdminPassword   string
	JWTSecret       string
	JWTPrevious     string
	RateLimits      string
	PublicURL       string
	TrustedProxies  string
	LogFormat       string
	SMTPURL         string
	SMTPFrom        string
	PprofAddr       string
	RetentionDays   string
	ShutdownTimeout time.Duration
}

// setting ties a field to its environment variable and flag.
type setting struct {
	flag, env, usage string
	value            *string
}

func (c *config) settings() []setting {
	return []setting{
		{"addr", "PLAYGATE_ADDR", "listen address", &c.Addr},
		{"data", "PLAYGATE_DATA", "data folder: SQLite file, attachments, generated JWT key", &c.Data},
		{"db", "PLAYGATE_DB", "empty for SQLite in the data folder, or a postgres:// URL", &c.DB},
		{"admin-email", "PLAYGATE_ADMIN_EMAIL", "first admin's email (only when there are no users)", &c.AdminEmail},
		{"admin-password", "PLAYGATE_ADMIN_PASSWORD", "first admin's password", &c.AdminPassword},
		{"jwt-secret", "PLAYGATE_JWT_SECRET", "HMAC key for access tokens, at least 32 bytes (generated when unset)", &c.JWTSecret},
		{"jwt-previous-secret", "PLAYGATE_JWT_PREVIOUS_SECRET", "the key before a rotation; still verifies", &c.JWTPrevious},
		{"rate-limits", "PLAYGATE_RATE_LIMITS", "on, off, or overrides such as feedback=10/1m,votes=60/1m", &c.RateLimits},
		{"public-url", "PLAYGATE_PUBLIC_URL", "where users reach Playgate, e.g. https://playtest.example.com", &c.PublicURL},
		{"trusted-proxies", "PLAYGATE_TRUSTED_PROXIES", "comma-separated proxies allowed to set X-Forwarded-For", &c.TrustedProxies},
		{"log-format", "PLAYGATE_LOG_FORMAT", "text or json", &c.LogFormat},
		{"smtp-url", "PLAYGATE_SMTP_URL", "smtp://user:pass@host:port: email invite links (needs PLAYGATE_PUBLIC_URL)", &c.SMTPURL},
		{"smtp-from", "PLAYGATE_SMTP_FROM", "sender address of invite emails", &c.SMTPFrom},
		{"retention-days", "PLAYGATE_RETENTION_DAYS", "delete attachments of superseded builds after this many days (empty: keep)", &c.RetentionDays},
		{"pprof-addr", "PLAYGATE_PPROF_ADDR", "opt-in loopback address for net/http/pprof, e.g. 127.0.0.1:6060", &c.PprofAddr},
	}
}

// loadConfig reads defaults, the environment and flags, then validates.
// extra registers a command's own flags beside the server's.
func loadConfig(name string, args []string, stderr io.Writer, extra ...func(*flag.FlagSet)) (*config, []string, error) {
	c := &config{Addr: ":8080", Data: "./playgate-data", RateLimits: "on", LogFormat: "text", ShutdownTimeout: 10 * time.Second}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, register := range extra {
		register(fs)
	}
	for _, s := range c.settings() {
		if v, ok := os.LookupEnv(s.env); ok {
			*s.value = v
		}
		fs.StringVar(s.value, s.flag, *s.value, s.usage+" ($"+s.env+")")
	}
	// Secrets may come from files (Docker and Kubernetes secrets).
	for _, f := range []struct {
		env   string
		value *string
	}{{"PLAYGATE_JWT_SECRET_FILE", &c.JWTSecret}, {"PLAYGATE_ADMIN_PASSWORD_FILE", &c.AdminPassword}} {
		if path := os.Getenv(f.env); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.env, err)
			}
			*f.value = strings.TrimRight(string(b), "\r\n")
		}
	}
	if v := os.Getenv("PLAYGATE_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, nil, fmt.Errorf("PLAYGATE_SHUTDOWN_TIMEOUT: %w", err)
		}
		c.ShutdownTimeout = d
	}
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may finish on SIGTERM ($PLAYGATE_SHUTDOWN_TIMEOUT)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return c, fs.Args(), c.validate()
}

func (c *config) validate() error {
	var errs []error
	if _, err := handlers.ParseLimits(c.RateLimits); err != nil {
		errs = append(errs, fmt.Errorf("PLAYGATE_RATE_LIMITS must be on, off or overrides like feedback=10/1m: %w", err))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("PLAYGATE_LOG_FORMAT must be text or json, not %q", c.LogFormat))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		errs = append(errs, errors.New("PLAYGATE_JWT_SECRET must be at least 32 bytes"))
	}
	if c.JWTPrevious != "" && len(c.JWTPrevious) < 32 {
		errs = append(errs, errors.New("PLAYGATE_JWT_PREVIOUS_SECRET must be at least 32 bytes"))
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		errs = append(errs, errors.New("PLAYGATE_DB must be empty (SQLite) or a postgres:// URL"))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, errors.New("PLAYGATE_PUBLIC_URL must start with http:// or https://"))
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.SMTPURL != "" {
		if _, err := mailer.Parse(c.SMTPURL, c.SMTPFrom); err != nil {
			errs = append(errs, err)
		}
		if c.PublicURL == "" {
			errs = append(errs, errors.New("PLAYGATE_SMTP_URL needs PLAYGATE_PUBLIC_URL: invite emails carry links"))
		}
	}
	if d, err := c.retention(); err != nil || d < 0 {
		errs = append(errs, errors.New("PLAYGATE_RETENTION_DAYS must be a whole number of days of at least 1"))
	}
	if c.PprofAddr != "" {
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			errs = append(errs, errors.New("PLAYGATE_PPROF_ADDR must be a loopback address such as 127.0.0.1:6060"))
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("the shutdown timeout must be positive"))
	}
	return errors.Join(errs...)
}

// retention is how long superseded builds keep their attachments (0: forever).
func (c *config) retention() (time.Duration, error) {
	if c.RetentionDays == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(c.RetentionDays)
	if err != nil || n < 1 {
		return -1, errors.New("bad retention")
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

func (c *config) proxies() []string {
	var out []string
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// jwtKey is the configured secret, or the one generated once and kept in
// the data folder so restarts keep sessions valid.
func (c *config) jwtKey() ([]byte, error) {
	if c.JWTSecret != "" {
		return []byte(c.JWTSecret), nil
	}
	path := filepath.Join(c.Data, "jwt.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if key := strings.TrimSpace(string(b)); len(key) >= 32 {
			return []byte(key), nil
		}
		return nil, fmt.Errorf("%s is shorter than 32 bytes: remove it to generate a new one", path)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := hex.EncodeToString(raw)
	if err := os.MkdirAll(c.Data, 0o750); err != nil {
		return nil, err
	}
	// O_EXCL: if another process wrote it first, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return c.jwtKey()
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return []byte(key), f.Close()
}
