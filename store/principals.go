package store

import (
	"sync"

	"playgate/models"
)

// principalCache remembers the user behind each live session, so that an
// authenticated request reads nothing from the database. It is used on
// SQLite only, where this process makes every write: any write other than
// feedback and votes (the only ones that cannot end a session or change a
// user) empties it before its caller is answered. With PostgreSQL, another
// replica may end a session at any time, so every request reads it.
type principalCache struct {
	mu    sync.RWMutex
	gen   uint64
	users map[int64]models.User // by session id
}

// maxPrincipals bounds the cache; when full it starts again empty.
const maxPrincipals = 10000

func (p *principalCache) get(sessionID, userID int64) (models.User, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	u, ok := p.users[sessionID]
	return u, ok && u.ID == userID
}

// generation is read before the database, so that put can tell whether a
// write committed in between (the row read may then be stale).
func (p *principalCache) generation() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.gen
}

func (p *principalCache) put(sessionID int64, u models.User, gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if gen != p.gen {
		return
	}
	if p.users == nil || len(p.users) >= maxPrincipals {
		p.users = make(map[int64]models.User)
	}
	p.users[sessionID] = u
}

// invalidate forgets every principal; writers call it after they commit.
func (p *principalCache) invalidate() {
	if p == nil { // PostgreSQL
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.users = nil
}
