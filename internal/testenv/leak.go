package testenv

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Searchable turns an exported history (JSON) into text where payloads are readable: every string
// value that is base64 is appended decoded, so a secret inside a payload cannot hide in encoding.
func Searchable(t testing.TB, historyJSON string) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString(historyJSON)
	dec := json.NewDecoder(strings.NewReader(historyJSON))
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		s, ok := tok.(string)
		if !ok || len(s) < 8 {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				sb.WriteString("\n")
				sb.Write(b)
				break
			}
		}
	}
	return sb.String()
}

// AssertNoSecrets fails if any secret value occurs in text. what names the text in the message,
// and the message never prints the secret itself.
func AssertNoSecrets(t testing.TB, what, text string, secrets map[string]string) {
	t.Helper()
	for name, v := range secrets {
		if v == "" {
			t.Fatalf("secret %q is empty: the search would prove nothing", name)
		}
		if strings.Contains(text, v) {
			t.Errorf("%s contains %s", what, name)
		}
	}
}
