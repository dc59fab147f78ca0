package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"playgate/store"
)

// apiError is the body of every error answer.
type apiError struct {
	Code     string            `json:"code"`
	Message  string            `json:"message"`
	Fields   map[string]string `json:"fields,omitempty"`
	Blockers []string          `json:"blockers,omitempty"`
}

// fail answers the contract's error envelope and stops the chain.
func fail(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, gin.H{"error": apiError{Code: code, Message: message}})
}

func invalid(c *gin.Context, fields map[string]string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"error": apiError{Code: "validation_failed", Message: "Some fields are invalid.", Fields: fields}})
}

func notFound(c *gin.Context, what string) {
	fail(c, http.StatusNotFound, "not_found", what+" not found.")
}

func forbidden(c *gin.Context) {
	fail(c, http.StatusForbidden, "forbidden", "Your role does not allow this.")
}

func rateLimited(c *gin.Context, wait time.Duration) {
	secs := int(wait.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Header("Retry-After", strconv.Itoa(secs))
	fail(c, http.StatusTooManyRequests, "rate_limited", "Too many attempts: try again in "+strconv.Itoa(secs)+" seconds.")
}

// answer maps a store error to the contract's envelope; anything unexpected
// is logged with the request and answered as a bare 500.
func (a *API) answer(c *gin.Context, err error) {
	var p *store.Problem
	if errors.As(err, &p) {
		body := apiError{Message: p.Message, Fields: p.Fields, Blockers: p.Blockers}
		status := http.StatusInternalServerError
		switch {
		case errors.Is(p, store.ErrNotFound):
			status, body.Code = http.StatusNotFound, "not_found"
		case errors.Is(p, store.ErrConflict):
			status, body.Code = http.StatusConflict, "conflict"
			if len(p.Blockers) > 0 {
				body.Code = "gate_failed"
			}
		case errors.Is(p, store.ErrGone):
			status, body.Code = http.StatusGone, "gone"
		case errors.Is(p, store.ErrForbidden):
			status, body.Code = http.StatusForbidden, "forbidden"
		case errors.Is(p, store.ErrUnauthorized):
			status, body.Code = http.StatusUnauthorized, "unauthorized"
		case errors.Is(p, store.ErrInvalid):
			status, body.Code = http.StatusBadRequest, "validation_failed"
		}
		if status != http.StatusInternalServerError {
			c.AbortWithStatusJSON(status, gin.H{"error": body})
			return
		}
	}
	_ = c.Error(err)
	fail(c, http.StatusInternalServerError, "internal", "Something went wrong on our side; it has been logged.")
}
