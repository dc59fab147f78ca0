package handlers

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access token settings of the contract.
const (
	accessLifetime = 15 * time.Minute
	tokenIssuer    = "playgate"
	tokenAudience  = "playgate-api"
)

// Keys sign and verify access tokens. Current signs; Previous, when set,
// still verifies, so a key can be rotated without logging everyone out.
type Keys struct {
	Current  []byte
	Previous []byte
}

// claims are an access token's contents: sub is the user id, sid the session.
type claims struct {
	jwt.RegisteredClaims
	Role string `json:"role"`
	SID  int64  `json:"sid"`
}

// sign issues an access token for a user's session.
func (k Keys) sign(userID, sessionID int64, role string, now time.Time) (string, error) {
	cl := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Issuer:    tokenIssuer,
			Audience:  jwt.ClaimStrings{tokenAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(accessLifetime)),
		},
		Role: role,
		SID:  sessionID,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, cl).SignedString(k.Current)
}

// verifiedToken is what a valid access token says, and when it is valid.
type verifiedToken struct {
	userID, sessionID int64
	// The token is valid from notBefore (its iat, or its nbf if later)
	// until just before expires.
	notBefore, expires time.Time
}

// validAt tells whether the token is valid at now, as jwt checks it.
func (v *verifiedToken) validAt(now time.Time) bool {
	return !now.Before(v.notBefore) && now.Before(v.expires)
}

// verify checks an access token: HS256 only, a valid signature by the
// current or previous key, and exp, iss and aud all present and right.
func (k Keys) verify(token string, now time.Time) (verifiedToken, error) {
	var last error
	for _, key := range [][]byte{k.Current, k.Previous} {
		if len(key) == 0 {
			continue
		}
		var cl claims
		_, err := jwt.ParseWithClaims(token, &cl, func(*jwt.Token) (any, error) { return key, nil },
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithIssuer(tokenIssuer),
			jwt.WithAudience(tokenAudience),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(func() time.Time { return now }),
		)
		if err != nil {
			last = err
			if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				continue // maybe signed by the previous key
			}
			return verifiedToken{}, err
		}
		uid, perr := strconv.ParseInt(cl.Subject, 10, 64)
		if perr != nil || uid <= 0 || cl.SID <= 0 {
			return verifiedToken{}, fmt.Errorf("token lacks a valid sub or sid")
		}
		v := verifiedToken{userID: uid, sessionID: cl.SID, expires: cl.ExpiresAt.Time}
		for _, at := range []*jwt.NumericDate{cl.IssuedAt, cl.NotBefore} {
			if at != nil && at.After(v.notBefore) {
				v.notBefore = at.Time
			}
		}
		return v, nil
	}
	if last == nil {
		last = errors.New("no key")
	}
	return verifiedToken{}, last
}

// tokenCache keeps the access tokens verified lately. A client sends the
// same token with every request; parsing it and checking its signature
// was about a twentieth of the CPU a bug report costs. A token found here
// is still checked against the clock; what else it says its signature
// fixed. Sessions and users are checked on every request all the same
// (store.Principal), and the keys only change with a restart.
type tokenCache struct {
	mu     sync.RWMutex
	tokens map[string]verifiedToken
}

// maxCachedTokens bounds the cache; when full it starts again empty.
const maxCachedTokens = 4096

var errTokenTime = errors.New("token expired or not yet valid")

// verify is Keys.verify, once per token.
func (tc *tokenCache) verify(keys Keys, token string, now time.Time) (verifiedToken, error) {
	tc.mu.RLock()
	v, ok := tc.tokens[token]
	tc.mu.RUnlock()
	if !ok {
		var err error
		if v, err = keys.verify(token, now); err != nil {
			return v, err
		}
		tc.mu.Lock()
		if tc.tokens == nil || len(tc.tokens) >= maxCachedTokens {
			tc.tokens = map[string]verifiedToken{}
		}
		tc.tokens[token] = v
		tc.mu.Unlock()
	}
	if !v.validAt(now) {
		return verifiedToken{}, errTokenTime
	}
	return v, nil
}
