package envfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDotenv sets a valid key to a valid value in arbitrary file content. Get must then return
// the value, exactly one line must define the key, a second Set must change nothing, and every
// line that does not define the key must be kept byte for byte and in order (only an unterminated
// last line may gain a line ending, when the key is appended after it).
func FuzzDotenv(f *testing.F) {
	for _, seed := range []struct{ content, key, value string }{
		{"", "JWT_SECRET", "s"},
		{"JWT_SECRET=old\n", "JWT_SECRET", "new-secret_AbC-123"},
		{"# Backend config\n\nPORT=8080   # spaces kept\nJWT_SECRET=old\nJWT_SECRET_OLD=keep-me\nLOG_LEVEL=debug", "JWT_SECRET", "v"},
		{"A=1\r\nJWT_SECRET=old\r\nB=2\r\n", "JWT_SECRET", "with space"},
		{"A=1\r\nB=2", "JWT_SECRET", "x"},
		{"  export JWT_SECRET=\"old\" # note\nB=2\n", "JWT_SECRET", `double "quotes" and $HOME`},
		{"JWT_SECRET=one\nA=1\nexport JWT_SECRET=two\n# JWT_SECRET=comment\nJWT_SECRET = three\n", "JWT_SECRET", "one"},
		{"JWT_SECRET=new\nJWT_SECRET=old\n", "JWT_SECRET", "new"},
		{`JWT_SECRET="unterminated` + "\nA=1\n", "JWT_SECRET", "single 'quote'"},
		{"JWT_SECRET='same'", "JWT_SECRET", "same"},
		{"weird line without equals\nexport\nexport=1\n=\n", "export", "both ' and \" and \\ and `cmd`"},
		{"\ufeffJWT_SECRET=bom\n", "JWT_SECRET", "ünïcödé"},
		{"a=1\nA=2\n", "a", ""},
		{"K=\x00\nK2=1\n\n\n", "K", "=starts with equals #"},
	} {
		f.Add([]byte(seed.content), seed.key, seed.value)
	}
	f.Fuzz(func(t *testing.T, content []byte, key, value string) {
		if checkKey(key) != nil || checkValue(value) != nil {
			t.Skip("Set rejects this key or value")
		}
		d := Dotenv{Path: filepath.Join(t.TempDir(), ".env")}
		if err := os.WriteFile(d.Path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Set(key, value); err != nil {
			t.Fatalf("Set: %v", err)
		}
		got, ok, err := d.Get(key)
		if err != nil || !ok || got != value {
			t.Fatalf("Get after Set = %q, %v, %v; want %q", got, ok, err, value)
		}
		after, err := os.ReadFile(d.Path)
		if err != nil {
			t.Fatal(err)
		}

		others := func(data []byte) (lines [][]byte, defining int) {
			for _, line := range splitLines(data) {
				if _, _, ok := match(line, key); ok {
					defining++
					continue
				}
				lines = append(lines, line)
			}
			return lines, defining
		}
		want, hadKey := others(content)
		have, defining := others(after)
		if defining != 1 {
			t.Fatalf("%d lines define %s after Set:\n%q", defining, key, after)
		}
		if len(have) != len(want) {
			t.Fatalf("other lines: had %d, have %d\nbefore %q\nafter  %q", len(want), len(have), content, after)
		}
		for i := range want {
			if bytes.Equal(have[i], want[i]) {
				continue
			}
			last := i == len(want)-1
			body, eol := trimEOL(want[i])
			hb, heol := trimEOL(have[i])
			if last && hadKey == 0 && len(eol) == 0 && bytes.Equal(hb, body) && len(heol) > 0 {
				continue // an unterminated last line, now followed by the appended key
			}
			t.Fatalf("line %d changed: %q -> %q\nbefore %q\nafter  %q", i, want[i], have[i], content, after)
		}

		changed, err := d.Set(key, value)
		if err != nil || changed {
			t.Fatalf("second Set: changed=%v err=%v", changed, err)
		}
		again, err := os.ReadFile(d.Path)
		if err != nil || !bytes.Equal(again, after) {
			t.Fatalf("second Set rewrote the file: %q -> %q (%v)", after, again, err)
		}
	})
}
