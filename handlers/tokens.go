package handlers

import (
	"errors"
	"fmt"
	"strconv"
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

// verify checks an access token: HS256 only, a valid signature by the
// current or previous key, and exp, iss and aud all present and right.
func (k Keys) verify(token string, now time.Time) (userID, sessionID int64, err error) {
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
			return 0, 0, err
		}
		uid, perr := strconv.ParseInt(cl.Subject, 10, 64)
		if perr != nil || uid <= 0 || cl.SID <= 0 {
			return 0, 0, fmt.Errorf("token lacks a valid sub or sid")
		}
		return uid, cl.SID, nil
	}
	if last == nil {
		last = errors.New("no key")
	}
	return 0, 0, last
}
