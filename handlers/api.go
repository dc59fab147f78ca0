// Package handlers is Playgate's HTTP face: the gin router, middleware,
// request and response types, and the mapping of errors to the contract's
// envelope. Handlers bind, authorize, call the store and answer.
package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"playgate/models"
	"playgate/store"
)

// Config is what the API needs from the outside.
type Config struct {
	Store *store.Store
	Keys  Keys
	Log   *slog.Logger
	// UI is the embedded web UI (nil: no UI).
	UI fs.FS
	// PublicURL is where users reach Playgate (https enables Secure cookies and HSTS).
	PublicURL string
	// TrustedProxies may set X-Forwarded-For; none by default.
	TrustedProxies []string
	// Limits are the rate limits (empty: off; login throttling stays on).
	Limits Limits
	// Mailer, with PublicURL, emails invite links (nil: links are only returned).
	Mailer Mailer
}

// Mailer sends one plain-text email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// API holds everything the handlers need; no globals.
type API struct {
	Config
	store   *store.Store
	log     *slog.Logger
	metrics *metrics
	reports reportCache
	tokens  tokenCache
	secure  bool
	// closing ends the event streams when the server shuts down.
	closing   chan struct{}
	closeOnce sync.Once
}

// Close ends long-lived streams so a graceful shutdown need not wait for them.
func (a *API) Close() { a.closeOnce.Do(func() { close(a.closing) }) }

// New builds the API.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &API{
		Config:  cfg,
		store:   cfg.Store,
		log:     cfg.Log,
		metrics: newMetrics(cfg.Store),
		secure:  strings.HasPrefix(cfg.PublicURL, "https://"),
		closing: make(chan struct{}),
	}
}

// Registry is the Prometheus registry behind /metrics.
func (a *API) Registry() *prometheus.Registry { return a.metrics.reg }

// Router builds the gin engine with every route of the contract.
func (a *API) Router() (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if err := r.SetTrustedProxies(a.TrustedProxies); err != nil {
		return nil, err
	}
	r.Use(a.requestID, a.logRequests, a.recover, a.securityHeaders)
	r.NoRoute(a.noRoute)
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "This method is not allowed here.")
	})

	r.GET("/healthz", a.healthz)
	r.GET("/readyz", a.readyz)
	r.GET("/metrics", a.metricsHandler)
	r.GET("/api/openapi.json", a.openAPI)

	v1 := r.Group("/api/v1")
	v1.POST("/auth/login", a.limit("login"), a.login)
	v1.POST("/auth/refresh", a.refresh)
	v1.POST("/auth/logout", a.logout)
	v1.POST("/invites/redeem", a.limit("redeem"), a.redeemInvite)

	auth := v1.Group("", a.authenticate)
	admin := []models.Role{models.RoleAdmin}
	managers := []models.Role{models.RoleAdmin, models.RoleReleaseManager}
	inviters := []models.Role{models.RoleAdmin, models.RoleReleaseManager, models.RoleProductOwner}
	triagers := inviters
	staff := inviters

	auth.GET("/me", a.me)
	auth.POST("/me/password", a.changePassword)

	auth.POST("/users", a.allow(admin), a.createUser)
	auth.GET("/users", a.allow(admin), a.listUsers)
	auth.PATCH("/users/:id", a.allow(admin), a.updateUser)
	auth.DELETE("/users/:id", a.allow(admin), a.eraseUser)

	auth.POST("/products", a.allow(managers), a.createProduct)
	auth.GET("/products", a.allow(staff), a.listProducts)
	auth.GET("/products/:id", a.allow(staff), a.getProduct)
	auth.POST("/products/:id/builds", a.allow(managers), a.createBuild)

	auth.GET("/builds", a.listBuilds)
	auth.GET("/builds/:id", a.getBuild)
	auth.PATCH("/builds/:id", a.allow(managers), a.updateBuild)
	auth.POST("/builds/:id/changes", a.allow(managers), a.createChange)
	auth.GET("/builds/:id/changes", a.listChanges)

	auth.POST("/builds/:id/invites", a.allow(inviters), a.createInvite)
	auth.GET("/builds/:id/invites", a.allow(inviters), a.listInvites)
	auth.DELETE("/invites/:id", a.allow(inviters), a.revokeInvite)
	auth.GET("/builds/:id/testers", a.allow(staff), a.listTesters)
	auth.DELETE("/builds/:id/testers/:user_id", a.allow(staff), a.revokeTester)

	auth.PUT("/changes/:id/vote", a.allow([]models.Role{models.RoleTester}), a.limit("votes"), a.vote)
	auth.POST("/builds/:id/feedback", a.allow([]models.Role{models.RoleTester}), a.limit("feedback"), a.createFeedback)
	auth.GET("/builds/:id/feedback", a.listFeedback)
	auth.GET("/builds/:id/similar", a.similarFeedback)
	auth.GET("/feedback/:id", a.getFeedback)
	auth.PATCH("/feedback/:id", a.allow(triagers), a.triageFeedback)
	auth.POST("/feedback/:id/comments", a.addComment)
	auth.POST("/feedback/:id/attachments", a.allow([]models.Role{models.RoleTester}), a.uploadAttachment)
	auth.GET("/attachments/:id", a.getAttachment)
	auth.GET("/builds/:id/feedback.csv", a.allow(staff), a.exportFeedback)

	auth.GET("/builds/:id/report", a.allow(staff), a.report)
	auth.GET("/builds/:id/events", a.allow(staff), a.events)
	auth.GET("/builds/:id/gate", a.allow(managers), a.gate)
	auth.POST("/changes/:id/decision", a.allow(managers), a.decide)
	auth.POST("/builds/:id/promote", a.allow(managers), a.promote)
	auth.POST("/products/:id/rollback", a.allow(managers), a.rollback)
	auth.GET("/builds/:id/release-notes", a.allow(staff), a.releaseNotes)

	auth.POST("/products/:id/webhooks", a.allow(managers), a.createWebhook)
	auth.GET("/products/:id/webhooks", a.allow(managers), a.listWebhooks)
	auth.DELETE("/products/:id/webhooks/:webhook_id", a.allow(managers), a.deleteWebhook)
	auth.GET("/webhooks/:id/deliveries", a.allow(managers), a.listDeliveries)

	auth.GET("/audit", a.allow(managers), a.listAudit)
	return r, nil
}

// requestID honours a sane X-Request-ID or makes one.
func (a *API) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < '!' || r > '~' }) {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set("request_id", id)
	c.Header("X-Request-ID", id)
	c.Next()
}

// logRequests writes one line per request, without the query string (it
// may carry a search a tester typed) and never a token.
func (a *API) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	a.metrics.observe(route, c.Request.Method, status, elapsed)
	attrs := []slog.Attr{
		slog.String("request_id", c.GetString("request_id")),
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", elapsed),
		slog.String("ip", c.ClientIP()),
	}
	if u, ok := c.Get(userKey); ok {
		attrs = append(attrs, slog.Int64("user_id", u.(*models.User).ID))
	}
	level := slog.LevelInfo
	if len(c.Errors) > 0 {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", c.Errors.String()))
	}
	a.log.LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// recover turns a panic into the contract's 500, logging it with the request.
func (a *API) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			a.log.Error("panic", "request_id", c.GetString("request_id"), "panic", r)
			if !c.Writer.Written() {
				fail(c, http.StatusInternalServerError, "internal", "Something went wrong on our side; it has been logged.")
			}
		}
	}()
	c.Next()
}

func (a *API) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if a.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}
