package probe

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims is the shape of tokens the target issues, used to mint verification tokens.
type Claims struct {
	Issuer  string
	Subject string
	Role    string
	// SessionID is the sid claim. A session-backed target only accepts a token whose sid names
	// a live session of its subject, so a minted token must reuse the sid of a real login: with
	// a made-up one it would be refused as an unknown session, not for its key. Empty means a
	// random "probe-" sid.
	SessionID string
	TTL       time.Duration // zero means defaultMintTTL
}

// defaultMintTTL keeps verification tokens short-lived: they are only needed for one checklist.
const defaultMintTTL = 5 * time.Minute

// Mint signs a token of typ=access with HS256 and the given secret (iat now; sid c.SessionID,
// random when empty).
func Mint(secret string, c Claims) (string, error) {
	if secret == "" {
		return "", errors.New("mint: empty secret")
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c.mapClaims()).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("mint: %w", err)
	}
	return tok, nil
}

// MintNone returns an alg=none token with the same claims as Mint, which a correct target rejects.
func MintNone(c Claims) string {
	// SignedString only fails for the none method when the magic key is missing.
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c.mapClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return tok
}

// Tamper changes the payload so the signature no longer matches, keeping everything a target
// judges besides the signature: it lowers exp by one second (the token claims less, not more)
// and re-encodes the payload, so the token stays well-formed JSON with the same sid, subject and
// role. A target that rejected it merely as malformed, or as an unknown session (a flipped sid),
// would otherwise pass the check without verifying signatures at all. Without a numeric exp a
// string claim is changed instead, and a string that is not a JWT gets a char in its middle
// flipped.
func Tamper(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[1] == "" {
		return flipMiddle(token)
	}
	if p, ok := tamperClaim(parts[1]); ok {
		parts[1] = p
	} else {
		parts[1] = flipMiddle(parts[1])
	}
	return strings.Join(parts, ".")
}

// tamperClaim changes one claim in an encoded payload: exp when it is an integer, else one char
// of a string claim.
func tamperClaim(payload string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep iat and exp exactly as issued
	var claims map[string]any
	if dec.Decode(&claims) != nil {
		return "", false
	}
	changed := false
	if n, ok := claims["exp"].(json.Number); ok {
		if exp, err := n.Int64(); err == nil && exp > 1 {
			claims["exp"] = json.Number(strconv.FormatInt(exp-1, 10))
			changed = true
		}
	}
	for _, key := range []string{"jti", "sid", "sub"} {
		if changed {
			break
		}
		if v, ok := claims[key].(string); ok && v != "" {
			claims[key] = flipMiddle(v)
			changed = true
		}
	}
	if !changed {
		return "", false
	}
	out, err := json.Marshal(claims)
	if err != nil {
		return "", false
	}
	return base64.RawURLEncoding.EncodeToString(out), true
}

// flipMiddle changes the middle char to 'A' (or 'B' when it is 'A'). In an encoded segment the
// middle is away from the last char, whose low bits base64 may ignore.
func flipMiddle(s string) string {
	if s == "" {
		return "A"
	}
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// VerifiesWith reports whether token is a valid HS256 token under secret with an exp claim and,
// when issuer is not empty, that issuer. It checks the signature, not the token type.
func VerifiesWith(token, secret, issuer string) bool {
	if token == "" || secret == "" {
		return false
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired()}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	_, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(secret), nil }, opts...)
	return err == nil
}

func (c Claims) mapClaims() jwt.MapClaims {
	now := time.Now()
	ttl := c.TTL
	if ttl <= 0 {
		ttl = defaultMintTTL
	}
	sid := c.SessionID
	if sid == "" {
		// The prefix lets an operator tell probe tokens apart in the target's logs.
		sid = "probe-" + rand.Text()
	}
	return jwt.MapClaims{
		"iss":  c.Issuer,
		"sub":  c.Subject,
		"role": c.Role,
		"sid":  sid,
		"iat":  now.Unix(),
		"exp":  now.Add(ttl).Unix(),
		"typ":  "access",
	}
}

// withDefaults fills empty claims from a token the target issued (read without verifying), so
// that minted tokens differ from genuine ones only in what a check tests (key or alg): a 401 for
// a wrong issuer, or for an unknown session, would otherwise pass a check for the wrong reason.
// The sid is the issued token's, i.e. the live session of the probe's own fresh login.
func (c Claims) withDefaults(issued, username string) Claims {
	if issued != "" {
		var mc jwt.MapClaims
		if _, _, err := jwt.NewParser().ParseUnverified(issued, &mc); err == nil {
			fill := func(dst *string, key string) {
				if s, ok := mc[key].(string); ok && *dst == "" {
					*dst = s
				}
			}
			fill(&c.Issuer, "iss")
			fill(&c.Subject, "sub")
			fill(&c.Role, "role")
			fill(&c.SessionID, "sid")
		}
	}
	if c.Subject == "" {
		c.Subject = username
	}
	return c
}
