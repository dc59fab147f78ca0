package store

import (
	"testing"

	"playgate/models"
)

// A user read before a write committed is not cached after it: the write
// may have ended the session or disabled the user.
func TestPrincipalCacheDropsReadsRacingWrites(t *testing.T) {
	var p principalCache
	u := models.User{ID: 7, Name: "Ada"}

	gen := p.generation()
	p.put(1, u, gen)
	if got, ok := p.get(1, 7); !ok || got.Name != "Ada" {
		t.Fatalf("cached: %v %v", got, ok)
	}
	if _, ok := p.get(1, 8); ok {
		t.Fatal("a session answered for another user")
	}

	gen = p.generation()
	p.invalidate() // a write commits while the request reads the database
	p.put(2, u, gen)
	if _, ok := p.get(2, 7); ok {
		t.Fatal("a read made before a commit was cached after it")
	}
	if _, ok := p.get(1, 7); ok {
		t.Fatal("invalidate kept an entry")
	}
}
