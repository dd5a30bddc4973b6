// Package envfile is the env sink for backends configured by a dotenv file:
// it reads and atomically rewrites one KEY=value line, such as JWT_SECRET,
// while leaving the rest of the file exactly as its owner wrote it.
//
// Values may be secrets, so they never appear in error messages.
package envfile

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/authops/authops/internal/atomicfile"
)

// newFileMode is the mode of a file Set creates: it will hold a secret.
const newFileMode fs.FileMode = 0o600

// openBits are the mode bits a sink must not have: it holds a secret, so that only its owner
// may read or change it.
const openBits fs.FileMode = 0o066

// Dotenv is a dotenv file: KEY=value lines, optionally prefixed with
// `export `, with # comments and blank lines. Multi-line values are not
// supported.
type Dotenv struct{ Path string }

// Get returns the value of key, unquoting "..." (with backslash escapes) and
// '...' (literal), and whether it was present. A missing file means absent.
// If key appears more than once the last one wins, as it does for a shell
// sourcing the file and for common dotenv loaders.
func (d Dotenv) Get(key string) (string, bool, error) {
	if err := checkKey(key); err != nil {
		return "", false, d.wrap("get", err)
	}
	data, err := os.ReadFile(d.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, d.wrap("get", err)
	}
	var (
		value string
		found bool
	)
	for i, line := range splitLines(data) {
		_, raw, ok := match(line, key)
		if !ok {
			continue
		}
		v, err := parseValue(raw)
		if err != nil {
			return "", false, d.wrap("get", fmt.Errorf("line %d: %s: %w", i+1, key, err))
		}
		value, found = v, true
	}
	return value, found, nil
}

// Set writes KEY=value atomically (temp file, fsync, rename, fsync dir). Every
// other line is kept byte for byte (comments, blanks, order, other keys, line
// endings). The first KEY= line (or `export KEY=`, whose prefix is kept) is
// replaced, later duplicates of KEY are removed, and the line is appended if
// KEY is absent. The file's mode and owner are kept (0600 for a new file).
//
// A symlink, and a file that its group or others can read or write, are
// refused and left as they are (see checkSink).
//
// When the value is already set (one KEY line with an equal value, however
// it is quoted) nothing is written and changed is false, so that a retried
// step does not touch the file or wake a file watcher.
func (d Dotenv) Set(key, value string) (changed bool, err error) {
	if err := checkKey(key); err != nil {
		return false, d.wrap("set", err)
	}
	if err := checkValue(value); err != nil {
		return false, d.wrap("set", fmt.Errorf("%s: %w", key, err))
	}
	path := d.Path
	if _, err := checkSink(path); err != nil {
		return false, d.wrap("set", err)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, d.wrap("set", err)
	}

	updated := render(old, key, value)
	if bytes.Equal(updated, old) {
		return false, nil
	}
	// The backend may run as another user, the file's owner, who must still
	// be able to read it, so an existing file keeps its mode (owner-only,
	// checkSink saw to that), owner and group; if the owner cannot be kept
	// the write fails and the old file stays.
	err = atomicfile.Write(path, updated, atomicfile.Options{Perm: newFileMode, KeepOwnerAndMode: true})
	if err != nil {
		return false, d.wrap("set", err)
	}
	return true, nil
}

// render returns the file content with key set to value.
func render(old []byte, key, value string) []byte {
	lines := splitLines(old)
	var out bytes.Buffer
	out.Grow(len(old) + len(key) + len(value) + 8)
	done := false
	for _, line := range lines {
		prefix, raw, ok := match(line, key)
		if !ok {
			out.Write(line)
			continue
		}
		if done {
			continue // a later duplicate: drop it so there is one truth
		}
		done = true
		if cur, err := parseValue(raw); err == nil && cur == value {
			out.Write(line) // already right: keep its quoting untouched
			continue
		}
		_, eol := trimEOL(line)
		out.WriteString(prefix + key + "=" + quote(value))
		out.Write(eol)
	}
	if !done {
		eol := []byte("\n")
		if len(lines) > 0 {
			if _, e := trimEOL(lines[0]); len(e) > 0 {
				eol = e // match the file's line ending style
			}
			if _, e := trimEOL(lines[len(lines)-1]); len(e) == 0 {
				out.Write(eol) // terminate an unterminated last line
			}
		}
		out.WriteString(key + "=" + quote(value))
		out.Write(eol)
	}
	return out.Bytes()
}

// splitLines splits data into lines that keep their line endings, so that
// joining them gives data back exactly.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, data)
			break
		}
		lines = append(lines, data[:i+1])
		data = data[i+1:]
	}
	return lines
}

// trimEOL splits a line into its body and its line ending ("\n", "\r\n" or "").
func trimEOL(line []byte) (body, eol []byte) {
	if bytes.HasSuffix(line, []byte("\r\n")) {
		return line[:len(line)-2], line[len(line)-2:]
	}
	if bytes.HasSuffix(line, []byte("\n")) {
		return line[:len(line)-1], line[len(line)-1:]
	}
	return line, nil
}

// match reports whether line assigns key. It returns what precedes the key
// (indentation and an `export ` prefix, kept when the line is replaced) and
// the raw text after the '='. It accepts blanks around the '=', as common
// dotenv loaders do.
func match(line []byte, key string) (prefix, raw string, ok bool) {
	body, _ := trimEOL(line)
	s := strings.TrimLeft(string(body), " \t")
	if rest, ok := strings.CutPrefix(s, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		s = strings.TrimLeft(rest, " \t")
	}
	prefix = string(body[:len(body)-len(s)])
	rest, ok := strings.CutPrefix(s, key)
	if !ok {
		return "", "", false
	}
	rest = strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(rest, "=") {
		return "", "", false // e.g. KEY_OTHER=, or a line without '='
	}
	return prefix, rest[1:], true
}

// parseValue unquotes the text after '='. Errors never quote the text.
func parseValue(raw string) (string, error) {
	s := strings.TrimLeft(raw, " \t")
	if s == "" {
		return "", nil
	}
	switch s[0] {
	case '\'':
		end := strings.IndexByte(s[1:], '\'')
		if end < 0 {
			return "", errors.New("unterminated single-quoted value")
		}
		return s[1 : 1+end], checkTrailer(s[2+end:])
	case '"':
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '"':
				return b.String(), checkTrailer(s[i+1:])
			case c == '\\' && i+1 < len(s):
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '"', '\\', '$', '`':
					b.WriteByte(s[i])
				default:
					// Unknown escapes stay as written, like in a shell.
					b.WriteByte('\\')
					b.WriteByte(s[i])
				}
			default:
				b.WriteByte(c)
			}
		}
		return "", errors.New("unterminated double-quoted value")
	}
	// Unquoted: an inline comment starts at a '#' preceded by a blank.
	for i := 1; i < len(s); i++ {
		if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimRight(s, " \t"), nil
}

// checkTrailer allows only blanks and a comment after a closing quote.
func checkTrailer(s string) error {
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return nil
	}
	return errors.New("unexpected text after closing quote")
}

// quote renders value so that parseValue, a POSIX shell and common dotenv
// loaders all read it back unchanged: bare when it is made of safe
// characters (every base64url secret is), single-quoted when it has no
// single quote, double-quoted with escapes otherwise.
func quote(value string) string {
	safe := value != ""
	for _, c := range value {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:@+=,%", c)) {
			safe = false
			break
		}
	}
	switch {
	case safe:
		return value
	case value == "":
		return ""
	case !strings.Contains(value, "'"):
		return "'" + value + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(value); i++ {
		if c := value[i]; c == '"' || c == '\\' || c == '$' || c == '`' {
			b.WriteByte('\\')
		}
		b.WriteByte(value[i])
	}
	b.WriteByte('"')
	return b.String()
}

// checkKey accepts ^[A-Za-z_][A-Za-z0-9_]*$.
func checkKey(key string) error {
	if key == "" {
		return errors.New("invalid key: empty")
	}
	for i, c := range key {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("invalid key %q: want [A-Za-z_][A-Za-z0-9_]*", key)
		}
	}
	return nil
}

// checkValue rejects values that cannot be one dotenv line. The value is
// never quoted in the error: it is probably a secret.
func checkValue(value string) error {
	if strings.ContainsAny(value, "\n\r") {
		return errors.New("invalid value: contains a newline")
	}
	if strings.IndexByte(value, 0) >= 0 {
		return errors.New("invalid value: contains a NUL byte")
	}
	return nil
}

// checkSink refuses what must not hold a secret or be written through: a
// symlink (dangling or not: a rewrite would land wherever it points, and a
// link's target may be readable by others), anything but a regular file, and
// a file whose group or others can read or write it. It returns the file's
// info, or nil when there is no file yet (Set then creates it 0600).
func checkSink(path string) (fs.FileInfo, error) {
	if path == "" {
		return nil, errors.New("dotenv path is empty")
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, errors.New("the env sink is a symlink; refusing to write a secret through it: set env_sink.path to the file itself")
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	case fi.Mode().Perm()&openBits != 0:
		return nil, fmt.Errorf("mode %04o lets its group or others read or change the secret; "+
			"it must be readable by its owner only: chmod 600 it", uint32(fi.Mode().Perm()))
	}
	return fi, nil
}

// wrap prefixes err with the package, file and operation.
func (d Dotenv) wrap(op string, err error) error {
	return fmt.Errorf("envfile %s: %s: %w", d.Path, op, err)
}

// CheckWritable proves, without changing the file, that Set could rewrite it: the path is a
// regular file readable and writable by its owner only, or absent (checkSink), and a probe written atomically next to it (and given the file's owner,
// as Set would) can be created and removed. It is a pre-flight check: a sink that cannot be
// written must stop a rotation before a new secret version exists.
func (d Dotenv) CheckWritable() error {
	path := d.Path
	fi, err := checkSink(path)
	switch {
	case err != nil:
		return d.wrap("check writable", err)
	case fi != nil:
		// An immutable or read-only file refuses to be opened for writing; opening it writes
		// nothing. (A file bind-mounted on its own still cannot be renamed over, and is not caught.)
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return d.wrap("check writable", err)
		}
		if err := f.Close(); err != nil {
			return d.wrap("check writable", err)
		}
	}
	// A name of its own: checks of targets that share the file, or of one target by two runs,
	// may run at once, and one must not remove the other's probe.
	probe := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".authops-probe-"+rand.Text())
	if err := atomicfile.Write(probe, []byte("probe\n"), atomicfile.Options{Perm: newFileMode}); err != nil {
		return d.wrap("check writable", fmt.Errorf("write a probe next to it: %w", err))
	}
	defer os.Remove(probe)
	if fi != nil {
		if err := keepOwner(probe, fi); err != nil {
			return d.wrap("check writable", fmt.Errorf("give a new file the owner of %s: %w", path, err))
		}
	}
	if err := os.Remove(probe); err != nil {
		return d.wrap("check writable", fmt.Errorf("remove the probe: %w", err))
	}
	return nil
}
