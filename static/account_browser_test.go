package static_test

import (
	"testing"
)

// Anyone signed in changes their own password from the account page.
func TestBrowserChangePassword(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	admin := srv.admin(t)
	admin.createUser("pat@example.com", "Pat Owner", "product_owner", "pat-first-password")

	tb := newTab(t, srv.URL, 375, 800)
	tb.login("pat@example.com", "pat-first-password")
	tb.click("#whoami")
	tb.visible("#password-form")
	tb.shot("account")
	tb.typeInto("#pw-current", "not-my-password")
	tb.typeInto("#pw-new", "pat-second-password")
	tb.typeInto("#pw-again", "pat-second-password")
	tb.click("#pw-submit")
	tb.waitText("#password-form", "is not your current password")
	tb.setValue("#pw-current", "")
	tb.typeInto("#pw-current", "pat-first-password")
	tb.click("#pw-submit")
	tb.waitText("body", "Password changed")
	srv.login(t, "pat@example.com", "pat-second-password")
}
