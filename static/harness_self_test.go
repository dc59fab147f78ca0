package static_test

import (
	"strings"
	"testing"
	"time"
)

// The journeys rely on the harness seeing browser errors: check that it sees
// a console error, an uncaught exception, an unhandled rejection, a CSP
// violation and a dialog.
func TestBrowserHarnessSeesErrors(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	tb := newTab(t, srv.URL, 1024, 768)
	tb.nav("/login")
	tb.visible("#login-form")
	tb.eval("console.error", `console.error('planted console error'); true`)
	tb.eval("throw", `setTimeout(() => { throw new Error('planted exception'); }, 0); true`)
	tb.eval("rejection", `setTimeout(() => { Promise.reject(new Error('planted rejection')); }, 0); true`)
	tb.eval("inline script", `(() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1'; document.body.appendChild(s); return true; })()`)
	tb.eval("inline style", `(() => { const d = document.createElement('div'); d.setAttribute('style', 'color: red'); document.body.appendChild(d); return true; })()`)
	tb.eval("alert", `setTimeout(() => alert('planted dialog'), 0); true`)
	want := []string{"planted console error", "planted exception", "planted rejection", "Content Security Policy", "planted dialog"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		tb.mu.Lock()
		all := strings.Join(tb.problems, "\n")
		tb.mu.Unlock()
		missing := []string{}
		for _, w := range want {
			if !strings.Contains(all, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) == 0 {
			t.Logf("seen:\n%s", all)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the harness missed %q; it saw:\n%s", missing, all)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ran := evalAs[bool](tb, "inline script ran", `window.__ran === 1`); ran {
		t.Error("an inline script ran despite the CSP")
	}
	// These were planted: do not fail the test for them.
	tb.mu.Lock()
	tb.problems = nil
	tb.mu.Unlock()
}
