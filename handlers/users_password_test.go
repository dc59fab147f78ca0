package handlers_test

import (
	"fmt"
	"testing"

	"playgate/models"
)

func TestChangeOwnPassword(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleProductOwner)
	other := *u
	e.login(&other) // a second session of the same person
	path := "/api/v1/me/password"
	wantError(t, e.do("POST", path, u.Token, map[string]string{"current_password": "wrong-password", "new_password": "a-new-password-1"}), 400, "validation_failed", "current_password")
	wantError(t, e.do("POST", path, u.Token, map[string]string{"current_password": u.Password, "new_password": "short"}), 400, "validation_failed", "new_password")
	wantError(t, e.do("POST", path, "", map[string]string{"current_password": u.Password, "new_password": "a-new-password-1"}), 401, "unauthorized", "")
	e.must(204, "POST", path, u.Token, map[string]string{"current_password": u.Password, "new_password": "a-new-password-1"})
	e.must(200, "GET", "/api/v1/me", u.Token, nil)                                     // this session goes on
	wantError(t, e.do("GET", "/api/v1/me", other.Token, nil), 401, "unauthorized", "") // the other one ends
	wantError(t, e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": u.Email, "password": u.Password}), 401, "unauthorized", "")
	u.Password = "a-new-password-1"
	e.login(u)
}

func TestAdminResetsPassword(t *testing.T) {
	e := newEnv(t)
	u := e.user(models.RoleTester)
	path := fmt.Sprintf("/api/v1/users/%d", u.ID)
	wantError(t, e.do("PATCH", path, e.admin.Token, map[string]string{"password": "short"}), 400, "validation_failed", "password")
	e.must(200, "PATCH", path, e.admin.Token, map[string]string{"password": "reset-by-the-admin"})
	wantError(t, e.do("GET", "/api/v1/me", u.Token, nil), 401, "unauthorized", "")
	u.Password = "reset-by-the-admin"
	e.login(u)
	for _, act := range e.auditActions("") {
		if act == "user.updated" {
			return
		}
	}
	t.Fatal("no audit event for the reset")
}
