package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"playgate/mailer"
	"playgate/models"
)

type inviteRequest struct {
	Email          string `json:"email"`
	ExpiresInHours *int   `json:"expires_in_hours"`
}

// inviteView is an invite as listed: never its token.
type inviteView struct {
	ID         int64      `json:"id"`
	BuildID    int64      `json:"build_id"`
	Email      string     `json:"email"`
	Status     string     `json:"status"`
	ExpiresAt  time.Time  `json:"expires_at"`
	CreatedAt  time.Time  `json:"created_at"`
	RedeemedAt *time.Time `json:"redeemed_at"`
}

func (a *API) createInvite(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	var req inviteRequest
	if !bindJSON(c, &req) {
		return
	}
	hours := 72
	if req.ExpiresInHours != nil {
		hours = *req.ExpiresInHours
	}
	fields := map[string]string{}
	if !validEmail(req.Email) {
		fields["email"] = "must be an email address"
	}
	if hours < 1 || hours > 24*90 {
		fields["expires_in_hours"] = "must be from 1 to 2160 (90 days)"
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	inv, token, err := a.store.CreateInvite(c.Request.Context(), currentUser(c).ID, b.ID, req.Email, time.Duration(hours)*time.Hour)
	if err != nil {
		a.answer(c, err)
		return
	}
	out := gin.H{"id": inv.ID, "build_id": inv.BuildID, "email": inv.Email, "token": token, "expires_at": inv.ExpiresAt, "emailed": false}
	if a.PublicURL != "" {
		link := a.PublicURL + "/invite#" + token
		out["link"] = link
		if a.Mailer != nil {
			out["emailed"] = a.emailInvite(c, b, inv.Email, link, inv.ExpiresAt)
		}
	}
	c.JSON(http.StatusCreated, out)
}

// emailInvite sends the invite link; a failure is logged (never the link)
// and reported as emailed=false, since the invite itself exists.
func (a *API) emailInvite(c *gin.Context, b *models.Build, to, link string, expires time.Time) bool {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	p, err := a.store.Product(ctx, b.ProductID)
	if err != nil {
		a.log.Warn("invite email not sent", "request_id", c.GetString("request_id"), "error", err)
		return false
	}
	subject, body := mailer.InviteMessage(p.Name, b.Version, link, expires)
	if err := a.Mailer.Send(ctx, to, subject, body); err != nil {
		a.log.Warn("invite email not sent", "request_id", c.GetString("request_id"), "error", err)
		return false
	}
	return true
}

func (a *API) listInvites(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	p, ok := pageParams(c)
	if !ok {
		return
	}
	invites, next, err := a.store.Invites(c.Request.Context(), b.ID, p)
	if err != nil {
		a.answer(c, err)
		return
	}
	now := a.store.Now()
	out := make([]inviteView, len(invites))
	for i, inv := range invites {
		out[i] = inviteView{ID: inv.ID, BuildID: inv.BuildID, Email: inv.Email, Status: inv.Status(now),
			ExpiresAt: inv.ExpiresAt, CreatedAt: inv.CreatedAt, RedeemedAt: inv.RedeemedAt}
	}
	list(c, out, next)
}

func (a *API) revokeInvite(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	if _, err := a.store.Invite(c.Request.Context(), id); err != nil {
		a.answer(c, err)
		return
	}
	if err := a.store.RevokeInvite(c.Request.Context(), currentUser(c).ID, id); err != nil {
		a.answer(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type redeemRequest struct {
	Token    string `json:"token"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

func (a *API) redeemInvite(c *gin.Context) {
	var req redeemRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if req.Token == "" || len(req.Token) > 200 {
		fields["token"] = "is required"
	}
	checkName(fields, "name", req.Name, false, 100)
	checkPassword(fields, req.Password)
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	red, err := a.store.RedeemInvite(c.Request.Context(), req.Token, req.Name, req.Password)
	if err != nil {
		a.answer(c, err)
		return
	}
	pair, ok := a.issue(c, &red.User, red.SessionID, red.Refresh)
	if !ok {
		return
	}
	pair.BuildID = red.BuildID
	c.JSON(http.StatusCreated, pair)
}

func (a *API) listTesters(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	p, ok := pageParams(c)
	if !ok {
		return
	}
	testers, next, err := a.store.Testers(c.Request.Context(), b.ID, p)
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, testers, next)
}

func (a *API) revokeTester(c *gin.Context) {
	b, ok := a.buildFor(c, "id")
	if !ok {
		return
	}
	uid, ok := idParam(c, "user_id")
	if !ok {
		return
	}
	if err := a.store.RevokeTester(c.Request.Context(), currentUser(c).ID, b.ID, uid); err != nil {
		a.answer(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
