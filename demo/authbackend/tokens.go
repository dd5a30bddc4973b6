package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types, carried in the typ claim. Each route accepts exactly one.
const (
	typeAccess  = "access"
	typeRefresh = "refresh"
	typeSession = "session"
)

// tokenClaims is the payload of every token this service issues.
type tokenClaims struct {
	Role      string `json:"role"`
	SessionID string `json:"sid"`
	Type      string `json:"typ"`
	jwt.RegisteredClaims
}

// tokenIssuer signs and verifies the service's HS256 tokens.
type tokenIssuer struct {
	secret []byte
	issuer string
	parser *jwt.Parser
}

func newTokenIssuer(secret []byte, issuer string, now func() time.Time) *tokenIssuer {
	return &tokenIssuer{
		secret: secret,
		issuer: issuer,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
		),
	}
}

// sign issues a token of the given type for u in session sid. A refresh
// token also gets a random jti: refresh tokens are rotated, and two of the
// same session issued in the same second must still differ.
func (ti *tokenIssuer) sign(u user, sid, typ string, issuedAt, expiresAt time.Time) (string, error) {
	claims := tokenClaims{
		Role:      u.role,
		SessionID: sid,
		Type:      typ,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    ti.issuer,
			Subject:   u.name,
			IssuedAt:  jwt.NewNumericDate(issuedAt),
			ExpiresAt: jwt.NewNumericDate(expiresAt),
		},
	}
	if typ == typeRefresh {
		claims.ID = rand.Text()
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(ti.secret)
	if err != nil {
		return "", fmt.Errorf("sign %s token: %w", typ, err)
	}
	return signed, nil
}

// tokenHash is the hex SHA-256 of a raw token, the only form in which the
// state keeps one. Refresh tokens are high-entropy, so a plain hash (no salt,
// no slow KDF) is enough to make the stored value useless to a reader.
func tokenHash(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// tokenError is a rejected token. reason is a fixed code that is safe to log
// and to return to the client; it never holds any part of the token.
type tokenError struct{ reason string }

func (e *tokenError) Error() string { return "token rejected: " + e.reason }

// parse checks signature, algorithm, issuer, expiry and type. It does not
// look at revocation; the server does that against its state.
func (ti *tokenIssuer) parse(raw, wantType string) (*tokenClaims, error) {
	claims := &tokenClaims{}
	_, err := ti.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		// Belt and braces next to WithValidMethods: never hand the HMAC key
		// to another algorithm family.
		if _, ok := t.Method.(*jwt.SigningMethodHMAC); !ok {
			return nil, errors.New("unexpected signing method")
		}
		return ti.secret, nil
	})
	if err != nil {
		return nil, &tokenError{reason: jwtErrorReason(err)}
	}
	switch {
	case claims.Type != wantType:
		return nil, &tokenError{reason: "wrong_token_type"}
	case claims.Subject == "" || claims.SessionID == "" || claims.IssuedAt == nil:
		return nil, &tokenError{reason: "claim_missing"}
	}
	return claims, nil
}

// jwtErrorReason maps a jwt error to a fixed reason code. The library's
// messages are not logged, so nothing token-derived can leak.
func jwtErrorReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token_malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature_invalid"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token_unverifiable"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token_expired"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "issuer_invalid"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "claim_missing"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued_in_future"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token_not_yet_valid"
	default:
		return "token_invalid"
	}
}
