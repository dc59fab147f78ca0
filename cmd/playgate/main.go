// Command playgate is the Playgate server and its operator commands.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"playgate/handlers"
	"playgate/mailer"
	"playgate/models"
	"playgate/static"
	"playgate/store"
	"playgate/webhooks"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: playgate [command] [flags]

commands:
  serve        run the server (the default)
  user add     --email E --name N --role R (password from $PLAYGATE_PASSWORD or stdin)
  backup FILE  write one archive of the SQLite database and attachments while the server runs
  restore FILE unpack a backup into an empty data folder
  migrate      apply pending database migrations and exit
  seed         --feedback N --votes N --changes N --testers N: load a realistic data set (benchmarks, demos)
  version      print the version
  healthcheck  exit 0 when the server at --addr answers /healthz

every command takes the server flags (-data, -db, ...); run "playgate serve -h" for them
`

// run is the whole program; main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "user":
		if len(args) == 0 || args[0] != "add" {
			err = errors.New(`usage: playgate user add --email E --name N --role R`)
			break
		}
		err = userAdd(ctx, args[1:], stdin, stdout, stderr)
	case "backup":
		err = backup(ctx, args, stdout, stderr)
	case "restore":
		err = restore(args, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args, stdout, stderr)
	case "seed":
		err = seed(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "playgate %s (schema %d)\n", version, store.SchemaVersion())
	case "healthcheck":
		err = healthcheck(ctx, args, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprint(stderr, usage)
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "playgate:", err)
		return 1
	}
	return 0
}

func newLogger(c *config, w io.Writer) *slog.Logger {
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

func openStore(ctx context.Context, c *config) (*store.Store, error) {
	return store.Open(ctx, store.Options{URL: c.DB, DataDir: c.Data})
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	c, _, err := loadConfig("serve", args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	key, err := c.jwtKey()
	if err != nil {
		return err
	}
	if c.DB != "" && c.JWTSecret == "" {
		log.Warn("PLAYGATE_JWT_SECRET is unset: replicas on one PostgreSQL must share a secret, or tokens from one are refused by the others")
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := bootstrapAdmin(ctx, st, c, log); err != nil {
		return err
	}
	ui, err := fs.Sub(static.Files, "ui")
	if err != nil {
		return err
	}
	limits, _ := handlers.ParseLimits(c.RateLimits) // validated with the config
	cfg := handlers.Config{Store: st, Keys: handlers.Keys{Current: key, Previous: []byte(c.JWTPrevious)}, Log: log,
		UI: ui, PublicURL: c.PublicURL, TrustedProxies: c.proxies(), Limits: limits}
	if c.SMTPURL != "" {
		m, _ := mailer.Parse(c.SMTPURL, c.SMTPFrom) // validated with the config
		cfg.Mailer = m
	}
	api := handlers.New(cfg)
	if c.PprofAddr != "" {
		go servePprof(ctx, c.PprofAddr, log)
	}
	router, err := api.Router()
	if err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	srv := newHTTPServer(router, log, defaultTimeouts)
	srv.RegisterOnShutdown(api.Close)
	retention, _ := c.retention() // validated with the config
	go housekeeping(ctx, st, log, retention)
	go st.Listen(ctx, log)
	hooks := webhooks.New(st, log, api.Registry())
	hooksDone := make(chan struct{})
	go func() { hooks.Run(ctx); close(hooksDone) }()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	log.Info("playgate listening", "addr", ln.Addr().String(), "data", c.Data, "database", string(st.Dialect()), "version", version)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", c.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish cleanly", "error", err)
	}
	// Then deliver what the last requests queued, within the same deadline.
	<-hooksDone
	if err := hooks.Drain(sctx); err != nil {
		log.Warn("webhook outbox not drained; it resumes at the next start", "error", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// servePprof serves net/http/pprof on its own loopback listener, never on
// the public one.
func servePprof(ctx context.Context, addr string, log *slog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	log.Info("pprof listening", "addr", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("pprof", "error", err)
	}
}

// housekeeping drops live-stream events past their replay window and
// finished rate-limit windows, and with a retention set, the attachments of
// builds long out of production; every few minutes.
func housekeeping(ctx context.Context, st *store.Store, log *slog.Logger, retention time.Duration) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := errors.Join(st.PruneEvents(ctx), st.PruneRateCounters(ctx))
		if retention > 0 {
			n, perr := st.PruneAttachments(ctx, retention)
			if n > 0 {
				log.Info("retention removed attachments", "count", n)
			}
			err = errors.Join(err, perr)
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("housekeeping", "error", err)
		}
	}
}

// timeouts bound how long a client may hold a connection.
type timeouts struct {
	readHeader, read, write, idle time.Duration
}

// defaultTimeouts drop slow clients (slowloris) while letting a 10 MiB
// upload on a slow line and a large CSV export finish.
var defaultTimeouts = timeouts{readHeader: 10 * time.Second, read: 60 * time.Second, write: 5 * time.Minute, idle: 120 * time.Second}

// newHTTPServer is the server with its limits: timeouts and 64 KiB of headers.
func newHTTPServer(h http.Handler, log *slog.Logger, t timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.readHeader,
		ReadTimeout:       t.read,
		WriteTimeout:      t.write, // event streams lift it for themselves
		IdleTimeout:       t.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// bootstrapAdmin creates the first admin when the database has no users.
func bootstrapAdmin(ctx context.Context, st *store.Store, c *config, log *slog.Logger) error {
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	email, password, generated := c.AdminEmail, c.AdminPassword, false
	if email == "" {
		email = "admin@localhost"
	}
	if password == "" {
		password, generated = store.NewToken()[:20], true
	}
	if len(password) < models.MinPasswordLength {
		return errors.New("PLAYGATE_ADMIN_PASSWORD must be at least 10 characters")
	}
	hash, err := models.HashPassword(password)
	if err != nil {
		return err
	}
	err = st.CreateUser(ctx, nil, &models.User{Email: email, Name: "Administrator", Role: models.RoleAdmin, PasswordHash: hash})
	if errors.Is(err, store.ErrConflict) {
		return nil // another replica made it first
	}
	if err != nil {
		return fmt.Errorf("create first admin: %w", err)
	}
	if generated {
		// Printed once, on purpose: the only way to learn it.
		log.Info("created the first admin: sign in and change the password", "email", email, "password", password)
	} else {
		log.Info("created the first admin", "email", email)
	}
	return nil
}

func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var email, name, role string
	c, _, err := loadConfig("user add", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address")
		fs.StringVar(&name, "name", "", "display name")
		fs.StringVar(&role, "role", "", "admin, release_manager, product_owner or tester")
	})
	if err != nil {
		return err
	}
	if email == "" || name == "" || !models.Role(role).Valid() {
		return errors.New("user add needs --email, --name and --role (admin, release_manager, product_owner or tester)")
	}
	password := os.Getenv("PLAYGATE_PASSWORD")
	if password == "" {
		fmt.Fprint(stderr, "password: ")
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("no password: set PLAYGATE_PASSWORD or type it on stdin")
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if len(password) < models.MinPasswordLength {
		return errors.New("the password must be at least 10 characters")
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	hash, err := models.HashPassword(password)
	if err != nil {
		return err
	}
	u := &models.User{Email: email, Name: name, Role: models.Role(role), PasswordHash: hash}
	if err := st.CreateUser(ctx, nil, u); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %d %s (%s)\n", u.ID, u.Email, u.Role)
	return nil
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, _, err := loadConfig("migrate", args, stderr)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := st.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database at schema version %d\n", v)
	return nil
}

func backup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, rest, err := loadConfig("backup", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: playgate backup FILE")
	}
	if c.DB != "" {
		return errors.New("backup copies SQLite databases; for PostgreSQL use pg_dump (see the README)")
	}
	st, err := store.Connect(ctx, store.Options{DataDir: c.Data})
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, rest[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", rest[0])
	return nil
}

func restore(args []string, stdout, stderr io.Writer) error {
	c, rest, err := loadConfig("restore", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("usage: playgate restore FILE")
	}
	if err := store.Restore(rest[0], c.Data); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s\n", rest[0], c.Data)
	return nil
}

func healthcheck(ctx context.Context, args []string, stderr io.Writer) error {
	c, _, err := loadConfig("healthcheck", args, stderr)
	if err != nil {
		return err
	}
	addr := c.Addr
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %d", resp.StatusCode)
	}
	return nil
}
