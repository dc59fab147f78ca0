package handlers

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Limit is one rate limit: at most N requests per window.
type Limit struct {
	N      int
	Window time.Duration
}

// Limits are the rate limits by bucket name: login, redeem, feedback, votes
// (per user where there is one, and per client address).
type Limits map[string]Limit

// DefaultLimits are on unless PLAYGATE_RATE_LIMITS=off: generous for a
// person at a keyboard or a game client, tight for a script.
func DefaultLimits() Limits {
	return Limits{
		"login":       {30, time.Minute},
		"redeem":      {20, 10 * time.Minute},
		"feedback":    {30, time.Minute},
		"votes":       {120, time.Minute},
		"feedback_ip": {300, time.Minute},
		"votes_ip":    {1200, time.Minute},
	}
}

// ParseLimits reads "on", "off" or overrides like "feedback=10/1m,votes=60/1m"
// on top of the defaults.
func ParseLimits(spec string) (Limits, error) {
	switch spec {
	case "", "on":
		return DefaultLimits(), nil
	case "off":
		return Limits{}, nil
	}
	l := DefaultLimits()
	for _, part := range strings.Split(spec, ",") {
		name, rule, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, window, ok2 := strings.Cut(rule, "/")
		if _, known := l[name]; !ok || !ok2 || !known {
			return nil, fmt.Errorf("rate limit %q: want NAME=N/DURATION with NAME one of login, redeem, feedback, votes, feedback_ip, votes_ip", part)
		}
		count, err := strconv.Atoi(n)
		d, err2 := time.ParseDuration(window)
		if err != nil || err2 != nil || count < 1 || d < time.Second {
			return nil, fmt.Errorf("rate limit %q: want a positive count and a duration of at least 1s", part)
		}
		l[name] = Limit{count, d}
	}
	return l, nil
}

// limit counts a request against bucket (per user when signed in) and the
// bucket's _ip twin (per client address), answering 429 with Retry-After
// when either is spent. The client address comes from X-Forwarded-For only
// behind a trusted proxy, so a spoofed header dodges nothing.
func (a *API) limit(bucket string) gin.HandlerFunc {
	return func(c *gin.Context) {
		keys := [][2]string{}
		if _, ok := c.Get(userKey); ok {
			keys = append(keys, [2]string{bucket, "u" + strconv.FormatInt(currentUser(c).ID, 10)})
			keys = append(keys, [2]string{bucket + "_ip", c.ClientIP()})
		} else {
			keys = append(keys, [2]string{bucket, c.ClientIP()})
		}
		for _, k := range keys {
			l, on := a.Limits[k[0]]
			if !on {
				continue
			}
			ok, wait, err := a.store.Hit(c.Request.Context(), k[0]+":"+k[1], l.N, l.Window)
			if err != nil {
				a.answer(c, err)
				return
			}
			if !ok {
				rateLimited(c, wait)
				return
			}
		}
		c.Next()
	}
}
