package handlers

import (
	"net/http"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"playgate/models"
	"playgate/store"
)

// maxPassword bounds the work one login can ask of the hasher.
const maxPassword = 1000

type createUserRequest struct {
	Email    string      `json:"email"`
	Name     string      `json:"name"`
	Role     models.Role `json:"role"`
	Password string      `json:"password"`
}

// validEmail accepts a bare address (no display name).
func validEmail(e string) bool {
	addr, err := mail.ParseAddress(e)
	return err == nil && addr.Address == strings.TrimSpace(e) && len(e) <= 254
}

func checkName(fields map[string]string, key, v string, required bool, max int) {
	switch {
	case required && strings.TrimSpace(v) == "":
		fields[key] = "is required"
	case utf8.RuneCountInString(v) > max:
		fields[key] = "is too long"
	}
}

func checkPassword(fields map[string]string, pw string) {
	switch {
	case utf8.RuneCountInString(pw) < models.MinPasswordLength:
		fields["password"] = "must be at least 10 characters"
	case len(pw) > maxPassword:
		fields["password"] = "must be at most 1000 bytes"
	}
}

func (a *API) createUser(c *gin.Context) {
	var req createUserRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if !validEmail(req.Email) {
		fields["email"] = "must be an email address"
	}
	checkName(fields, "name", req.Name, true, 100)
	if !req.Role.Valid() {
		fields["role"] = "must be one of admin, release_manager, product_owner, tester"
	}
	checkPassword(fields, req.Password)
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	hash, err := models.HashPassword(req.Password)
	if err != nil {
		a.answer(c, err)
		return
	}
	actor := currentUser(c).ID
	u := &models.User{Email: req.Email, Name: strings.TrimSpace(req.Name), Role: req.Role, PasswordHash: hash}
	if err := a.store.CreateUser(c.Request.Context(), &actor, u); err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusCreated, u)
}

func (a *API) listUsers(c *gin.Context) {
	p, ok := pageParams(c)
	if !ok {
		return
	}
	users, next, err := a.store.Users(c.Request.Context(), p)
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, users, next)
}

type updateUserRequest struct {
	Name     *string      `json:"name"`
	Role     *models.Role `json:"role"`
	Disabled *bool        `json:"disabled"`
	// Password resets the user's password (and ends their sessions).
	Password *string `json:"password"`
}

func (a *API) updateUser(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	var req updateUserRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if req.Name != nil {
		checkName(fields, "name", *req.Name, true, 100)
	}
	if req.Role != nil && !req.Role.Valid() {
		fields["role"] = "must be one of admin, release_manager, product_owner, tester"
	}
	if req.Password != nil {
		checkPassword(fields, *req.Password)
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	patch := store.UserPatch{Name: req.Name, Role: req.Role, Disabled: req.Disabled}
	if req.Password != nil {
		hash, err := models.HashPassword(*req.Password)
		if err != nil {
			a.answer(c, err)
			return
		}
		patch.PasswordHash = &hash
	}
	u, err := a.store.UpdateUser(c.Request.Context(), currentUser(c).ID, id, patch)
	if err != nil {
		a.answer(c, err)
		return
	}
	c.JSON(http.StatusOK, u)
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changePassword lets anyone signed in replace their own password; their
// other sessions end.
func (a *API) changePassword(c *gin.Context) {
	var req passwordRequest
	if !bindJSON(c, &req) {
		return
	}
	fields := map[string]string{}
	if req.CurrentPassword == "" {
		fields["current_password"] = "is required"
	}
	pw := map[string]string{}
	checkPassword(pw, req.NewPassword)
	if m := pw["password"]; m != "" {
		fields["new_password"] = m
	}
	if len(fields) > 0 {
		invalid(c, fields)
		return
	}
	u := currentUser(c)
	if len(req.CurrentPassword) > maxPassword || !models.CheckPassword(u.PasswordHash, req.CurrentPassword) {
		invalid(c, map[string]string{"current_password": "is not your current password"})
		return
	}
	hash, err := models.HashPassword(req.NewPassword)
	if err != nil {
		a.answer(c, err)
		return
	}
	if err := a.store.ChangePassword(c.Request.Context(), u.ID, c.GetInt64(sessionKey), hash); err != nil {
		a.answer(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// eraseUser removes a person's personal data (DELETE /users/{id}?erase=true).
func (a *API) eraseUser(c *gin.Context) {
	id, ok := idParam(c, "id")
	if !ok {
		return
	}
	if c.Query("erase") != "true" {
		invalid(c, map[string]string{"erase": "must be true: this erases the person's data; to keep the account, disable it with PATCH"})
		return
	}
	if err := a.store.EraseUser(c.Request.Context(), currentUser(c).ID, id); err != nil {
		a.answer(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (a *API) listAudit(c *gin.Context) {
	p, ok := pageParams(c)
	if !ok {
		return
	}
	subjectID, ok := optionalID(c, "subject_id")
	if !ok {
		return
	}
	actorID, ok := optionalID(c, "actor_id")
	if !ok {
		return
	}
	subjectType := c.Query("subject_type")
	if len(subjectType) > 64 || !utf8.ValidString(subjectType) || strings.ContainsRune(subjectType, 0) {
		invalid(c, map[string]string{"subject_type": "must be a subject type such as feedback or change"})
		return
	}
	events, next, err := a.store.Audit(c.Request.Context(), store.AuditFilter{
		SubjectType: subjectType, SubjectID: subjectID, ActorID: actorID, Page: p})
	if err != nil {
		a.answer(c, err)
		return
	}
	list(c, events, next)
}
