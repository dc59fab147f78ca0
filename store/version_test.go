package store

import "testing"

// versionLess is what refuses an SQLite older than 3.51.3 (the WAL-reset fix).
func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{{"3.41.2", "3.51.3", true}, {"3.51.2", "3.51.3", true}, {"3.51.3", "3.51.3", false}, {"3.54.1", "3.51.3", false}, {"4.0", "3.51.3", false}, {"3.9.0", "3.51.3", true}} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%s, %s) = %v", c.a, c.b, got)
		}
	}
}
