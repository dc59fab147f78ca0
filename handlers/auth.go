package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"playgate/models"
	"playgate/store"
)

const (
	userKey       = "user"
	sessionKey    = "session_id"
	refreshCookie = "playgate_refresh"
	cookiePath    = "/api/v1/auth"
)

// authenticate requires a valid access token of a live session of an
// enabled user, and puts the user in the context.
func (a *API) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		fail(c, http.StatusUnauthorized, "unauthorized", "Sign in first: send Authorization: Bearer <access token>.")
		return
	}
	v, err := a.tokens.verify(a.Keys, token, a.store.Now())
	if err != nil {
		fail(c, http.StatusUnauthorized, "unauthorized", "The access token is invalid or expired.")
		return
	}
	uid, sid := v.userID, v.sessionID
	u, err := a.store.Principal(c.Request.Context(), uid, sid)
	if err != nil {
		if errors.Is(err, store.ErrUnauthorized) {
			fail(c, http.StatusUnauthorized, "unauthorized", "The session has ended: sign in again.")
			return
		}
		a.answer(c, err)
		return
	}
	c.Set(userKey, u)
	c.Set(sessionKey, sid)
	c.Next()
}

// allow lets only the given roles through (403 for the rest).
func (a *API) allow(roles []models.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := currentUser(c)
		for _, r := range roles {
			if u.Role == r {
				c.Next()
				return
			}
		}
		forbidden(c)
	}
}

func currentUser(c *gin.Context) *models.User { return c.MustGet(userKey).(*models.User) }

// tokenPair is the answer of login, refresh and redeem.
type tokenPair struct {
	AccessToken  string       `json:"access_token"`
	RefreshToken string       `json:"refresh_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int          `json:"expires_in"`
	User         *models.User `json:"user"`
	BuildID      int64        `json:"build_id,omitempty"`
}

// issue signs an access token, sets the refresh cookie and builds the pair.
func (a *API) issue(c *gin.Context, u *models.User, sessionID int64, refresh string) (*tokenPair, bool) {
	access, err := a.Keys.sign(u.ID, sessionID, string(u.Role), a.store.Now())
	if err != nil {
		a.answer(c, err)
		return nil, false
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: refreshCookie, Value: refresh, Path: cookiePath, MaxAge: int(store.RefreshLifetime.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure || c.Request.TLS != nil,
	})
	return &tokenPair{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(accessLifetime.Seconds()), User: u}, true
}

func (a *API) clearCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: refreshCookie, Value: "", Path: cookiePath, MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.secure || c.Request.TLS != nil})
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *API) login(c *gin.Context) {
	var req loginRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if strings.TrimSpace(req.Email) == "" {
		fields["email"] = "is required"
	}
	if req.Password == "" {
		fields["password"] = "is required"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	ctx := c.Request.Context()
	ip := c.ClientIP()
	wait, err := a.store.LoginThrottled(ctx, req.Email, ip)
	if err != nil {
		a.answer(c, err)
		return
	}
	if wait > 0 {
		rateLimited(c, wait)
		return
	}
	u, err := a.store.UserByEmail(ctx, req.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.answer(c, err)
		return
	}
	hash := models.DummyHash()
	if u != nil {
		hash = u.PasswordHash
	}
	if ok := models.CheckPassword(hash, req.Password); !ok || u == nil || u.Disabled {
		var uid *int64
		if u != nil {
			uid = &u.ID
		}
		if err := a.store.RecordLoginFailure(ctx, req.Email, ip, uid); err != nil {
			a.answer(c, err)
			return
		}
		fail(c, http.StatusUnauthorized, "unauthorized", "The email or password is wrong.")
		return
	}
	sid, refresh, err := a.store.StartSession(ctx, u.ID)
	if err != nil {
		a.answer(c, err)
		return
	}
	if pair, ok := a.issue(c, u, sid, refresh); ok {
		c.JSON(http.StatusOK, pair)
	}
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refreshToken reads the token from the body, or from the cookie when the
// body is empty; a cookie is only honoured from this site. "" means none.
func (a *API) refreshToken(c *gin.Context) (string, bool) {
	var req refreshRequest
	if c.Request.ContentLength != 0 {
		if !bindJSON(c, &req) {
			return "", false
		}
		if req.RefreshToken != "" {
			return req.RefreshToken, true
		}
	}
	cookie, err := c.Cookie(refreshCookie)
	if err != nil || cookie == "" {
		return "", true // no session at all: refresh answers 401, logout 204
	}
	if crossSite(c.Request) {
		fail(c, http.StatusForbidden, "forbidden", "Cookie sessions can only be refreshed from this site.")
		return "", false
	}
	return cookie, true
}

// crossSite reports a request that Sec-Fetch-Site or Origin shows came from another site.
func crossSite(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return true
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return true
		}
	}
	return false
}

func (a *API) refresh(c *gin.Context) {
	token, ok := a.refreshToken(c)
	if !ok {
		return
	}
	if token == "" {
		fail(c, http.StatusUnauthorized, "unauthorized", "No session: sign in.")
		return
	}
	u, sid, next, err := a.store.Refresh(c.Request.Context(), token)
	if err != nil {
		if errors.Is(err, store.ErrUnauthorized) {
			a.clearCookie(c)
		}
		a.answer(c, err)
		return
	}
	if pair, ok := a.issue(c, u, sid, next); ok {
		c.JSON(http.StatusOK, pair)
	}
}

func (a *API) logout(c *gin.Context) {
	token, ok := a.refreshToken(c)
	if !ok {
		return
	}
	if token == "" {
		a.clearCookie(c)
		c.Status(http.StatusNoContent)
		return
	}
	if err := a.store.Logout(c.Request.Context(), token); err != nil {
		a.answer(c, err)
		return
	}
	a.clearCookie(c)
	c.Status(http.StatusNoContent)
}

func (a *API) me(c *gin.Context) { c.JSON(http.StatusOK, currentUser(c)) }
