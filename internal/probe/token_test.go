package probe

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMint(t *testing.T) {
	c := Claims{Issuer: testIssuer, Subject: "probe", Role: "user", TTL: time.Minute}
	tok, err := Mint(newSecret, c)
	require.NoError(t, err)
	assert.True(t, VerifiesWith(tok, newSecret, testIssuer))
	assert.True(t, VerifiesWith(tok, newSecret, ""))
	assert.False(t, VerifiesWith(tok, prevSecret, testIssuer))
	assert.False(t, VerifiesWith(tok, newSecret, "other-issuer"))

	claims := jwt.MapClaims{}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, claims)
	require.NoError(t, err)
	assert.Equal(t, "HS256", parsed.Header["alg"])
	assert.Equal(t, "access", claims["typ"])
	assert.Equal(t, "probe", claims["sub"])
	assert.Equal(t, "user", claims["role"])
	assert.NotEmpty(t, claims["sid"])
	exp, err := claims.GetExpirationTime()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(time.Minute), exp.Time, 2*time.Second)

	other, err := Mint(newSecret, c)
	require.NoError(t, err)
	assert.NotEqual(t, tok, other, "sid must be random")

	_, err = Mint("", c)
	assert.Error(t, err)
}

func TestMintNone(t *testing.T) {
	tok := MintNone(Claims{Issuer: testIssuer, Subject: "probe"})
	require.True(t, strings.HasSuffix(tok, "."), tok)
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	require.NoError(t, err)
	assert.Equal(t, "none", parsed.Header["alg"])
	assert.False(t, VerifiesWith(tok, newSecret, testIssuer))
}

func TestTamper(t *testing.T) {
	tok, err := Mint(newSecret, Claims{Issuer: testIssuer, Subject: "probe"})
	require.NoError(t, err)
	tampered := Tamper(tok)
	assert.NotEqual(t, tok, tampered)
	parts, tparts := strings.Split(tok, "."), strings.Split(tampered, ".")
	require.Len(t, tparts, 3)
	assert.Equal(t, parts[0], tparts[0], "header untouched")
	assert.Equal(t, parts[2], tparts[2], "signature untouched")
	assert.NotEqual(t, parts[1], tparts[1])
	assert.False(t, VerifiesWith(tampered, newSecret, testIssuer))

	// Still well-formed and still naming the same session, subject and role: only exp moved
	// (a second earlier), so a target can only refuse it for the signature, not as malformed
	// or as an unknown session.
	orig, mod := jwt.MapClaims{}, jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(tok, orig)
	require.NoError(t, err)
	_, _, err = jwt.NewParser().ParseUnverified(tampered, mod)
	require.NoError(t, err)
	for _, k := range []string{"sid", "sub", "role", "iss", "typ", "iat"} {
		assert.Equal(t, orig[k], mod[k], k)
	}
	assert.Equal(t, orig["exp"].(float64)-1, mod["exp"])
	assert.Len(t, mod, len(orig))

	// Without exp a string claim is changed instead.
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "probe"}).SignedString([]byte(newSecret))
	require.NoError(t, err)
	mod = jwt.MapClaims{}
	_, _, err = jwt.NewParser().ParseUnverified(Tamper(noExp), mod)
	require.NoError(t, err)
	assert.NotEqual(t, "probe", mod["sub"])

	assert.NotEqual(t, "opaque", Tamper("opaque"))
	assert.NotEmpty(t, Tamper(""))
}

func TestVerifiesWithRejects(t *testing.T) {
	sign := func(claims jwt.MapClaims, m jwt.SigningMethod) string {
		tok, err := jwt.NewWithClaims(m, claims).SignedString([]byte(newSecret))
		require.NoError(t, err)
		return tok
	}
	now := time.Now()
	assert.False(t, VerifiesWith(sign(jwt.MapClaims{"iss": testIssuer}, jwt.SigningMethodHS256), newSecret, testIssuer), "no exp")
	assert.False(t, VerifiesWith(sign(jwt.MapClaims{"iss": testIssuer, "exp": now.Add(-time.Minute).Unix()}, jwt.SigningMethodHS256), newSecret, testIssuer), "expired")
	assert.False(t, VerifiesWith(sign(jwt.MapClaims{"iss": testIssuer, "exp": now.Add(time.Minute).Unix()}, jwt.SigningMethodHS512), newSecret, testIssuer), "HS512")
	assert.True(t, VerifiesWith(sign(jwt.MapClaims{"iss": testIssuer, "exp": now.Add(time.Minute).Unix()}, jwt.SigningMethodHS256), newSecret, testIssuer))
	assert.False(t, VerifiesWith("", newSecret, testIssuer))
	assert.False(t, VerifiesWith("not.a.jwt", newSecret, testIssuer))
}

func TestResultsHelpers(t *testing.T) {
	assert.False(t, Results{}.OK(), "an empty checklist proves nothing")
	rs := Results{{Name: "a", OK: true}, {Name: "b"}}
	assert.False(t, rs.OK())
	assert.Equal(t, []string{"b"}, names(rs.Failed()))
	assert.True(t, Results{{Name: "a", OK: true}}.OK())
}
