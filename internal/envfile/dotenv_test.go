package envfile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeEnv creates a dotenv file with content and mode in a fresh directory.
func writeEnv(t *testing.T, content string, mode os.FileMode) Dotenv {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".env")
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
	require.NoError(t, os.Chmod(path, mode)) // WriteFile's mode is filtered by the umask
	return Dotenv{Path: path}
}

func readEnv(t *testing.T, d Dotenv) string {
	t.Helper()
	data, err := os.ReadFile(d.Path)
	require.NoError(t, err)
	return string(data)
}

func TestGet(t *testing.T) {
	d := writeEnv(t, strings.Join([]string{
		"# a comment with JWT_SECRET=commented",
		"",
		"PLAIN=abc",
		"  INDENTED=ind",
		"export EXPORTED=exp",
		"export\tTABBED=tab",
		"SPACED = around ",
		`DOUBLE="a b \"q\" \\ \$HOME \n end"`,
		`SINGLE='a "b" \n $HOME'`,
		"COMMENTED=value # trailing comment",
		"HASH=a#b",
		`QUOTED_COMMENT="x y" # comment`,
		"EMPTY=",
		`EMPTY_QUOTED=""`,
		"DUP=first",
		"DUP=last",
		"JWT_SECRET_OLD=not-this-one",
		"CRLF=windows\r",
		"NOEOL=last-line",
	}, "\n"), 0o600)

	for key, want := range map[string]string{
		"PLAIN":          "abc",
		"INDENTED":       "ind",
		"EXPORTED":       "exp",
		"TABBED":         "tab",
		"SPACED":         "around",
		"DOUBLE":         "a b \"q\" \\ $HOME \n end",
		"SINGLE":         `a "b" \n $HOME`,
		"COMMENTED":      "value",
		"HASH":           "a#b",
		"QUOTED_COMMENT": "x y",
		"EMPTY":          "",
		"EMPTY_QUOTED":   "",
		"DUP":            "last",
		"CRLF":           "windows",
		"NOEOL":          "last-line",
	} {
		got, ok, err := d.Get(key)
		require.NoError(t, err, key)
		require.True(t, ok, key)
		require.Equal(t, want, got, key)
	}

	for _, key := range []string{"JWT_SECRET", "MISSING", "a"} {
		_, ok, err := d.Get(key)
		require.NoError(t, err, key)
		require.False(t, ok, key)
	}
}

func TestGet_MissingFile(t *testing.T) {
	d := Dotenv{Path: filepath.Join(t.TempDir(), "nope.env")}
	v, ok, err := d.Get("JWT_SECRET")
	require.NoError(t, err)
	require.False(t, ok)
	require.Empty(t, v)
}

func TestGet_Errors(t *testing.T) {
	for _, content := range []string{
		`JWT_SECRET="s3cr3t-unterminated`,
		`JWT_SECRET='s3cr3t-unterminated`,
		`JWT_SECRET="s3cr3t"junk`,
	} {
		d := writeEnv(t, "A=1\n"+content+"\n", 0o600)
		_, _, err := d.Get("JWT_SECRET")
		require.Error(t, err, content)
		require.Contains(t, err.Error(), "line 2")
		require.NotContains(t, err.Error(), "s3cr3t", "errors never quote values")
	}

	d := writeEnv(t, "A=1\n", 0o600)
	for _, key := range []string{"", "1ABC", "A-B", "A B", "A=B", "ÄB"} {
		_, _, err := d.Get(key)
		require.ErrorContains(t, err, "invalid key", key)
	}
}

func TestSet_ReplacesAndPreservesEverythingElse(t *testing.T) {
	before := "# Backend config\n" +
		"\n" +
		"PORT=8080   # spaces kept\n" +
		"  # indented comment\n" +
		"JWT_SECRET=old-secret\n" +
		"JWT_SECRET_OLD=keep-me\n" +
		"weird line without equals\n" +
		"DB_URL='postgres://u:p@h/db?x=1'\n" +
		"\n" +
		"\n" +
		"LOG_LEVEL=debug"
	d := writeEnv(t, before, 0o600)

	changed, err := d.Set("JWT_SECRET", "new-secret_AbC-123")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, strings.Replace(before, "JWT_SECRET=old-secret\n", "JWT_SECRET=new-secret_AbC-123\n", 1), readEnv(t, d))

	got, ok, err := d.Get("JWT_SECRET")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "new-secret_AbC-123", got)
}

func TestSet_KeepsExportPrefixAndIndentation(t *testing.T) {
	d := writeEnv(t, "A=1\n  export JWT_SECRET=\"old\" # note\nB=2\n", 0o600)
	changed, err := d.Set("JWT_SECRET", "new")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "A=1\n  export JWT_SECRET=new\nB=2\n", readEnv(t, d))
}

func TestSet_RemovesLaterDuplicates(t *testing.T) {
	d := writeEnv(t, "JWT_SECRET=one\nA=1\nexport JWT_SECRET=two\n# JWT_SECRET=comment stays\nJWT_SECRET = three\nB=2\n", 0o600)
	changed, err := d.Set("JWT_SECRET", "new")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "JWT_SECRET=new\nA=1\n# JWT_SECRET=comment stays\nB=2\n", readEnv(t, d))
}

func TestSet_DuplicatesRemovedEvenWhenFirstAlreadyRight(t *testing.T) {
	// The file must end with one truth, or a loader that takes the last
	// line would keep running with the old secret.
	d := writeEnv(t, "JWT_SECRET=new\nJWT_SECRET=old\n", 0o600)
	changed, err := d.Set("JWT_SECRET", "new")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "JWT_SECRET=new\n", readEnv(t, d))
}

func TestSet_Appends(t *testing.T) {
	for name, tc := range map[string]struct{ before, after string }{
		"trailing newline":    {"A=1\n", "A=1\nJWT_SECRET=s\n"},
		"no trailing newline": {"A=1", "A=1\nJWT_SECRET=s\n"},
		"crlf file":           {"A=1\r\nB=2\r\n", "A=1\r\nB=2\r\nJWT_SECRET=s\r\n"},
		"empty file":          {"", "JWT_SECRET=s\n"},
		"only comment":        {"# c\n", "# c\nJWT_SECRET=s\n"},
	} {
		t.Run(name, func(t *testing.T) {
			d := writeEnv(t, tc.before, 0o600)
			changed, err := d.Set("JWT_SECRET", "s")
			require.NoError(t, err)
			require.True(t, changed)
			require.Equal(t, tc.after, readEnv(t, d))
		})
	}
}

func TestSet_KeepsCRLFOnReplacedLine(t *testing.T) {
	d := writeEnv(t, "A=1\r\nJWT_SECRET=old\r\nB=2\r\n", 0o600)
	_, err := d.Set("JWT_SECRET", "new")
	require.NoError(t, err)
	require.Equal(t, "A=1\r\nJWT_SECRET=new\r\nB=2\r\n", readEnv(t, d))
}

func TestSet_NewFileIsPrivate(t *testing.T) {
	d := Dotenv{Path: filepath.Join(t.TempDir(), ".env")}
	changed, err := d.Set("JWT_SECRET", "s")
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, "JWT_SECRET=s\n", readEnv(t, d))
	fi, err := os.Stat(d.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestSet_KeepsMode(t *testing.T) {
	// The atomic rewrite keeps an owner-only mode; 0600 stays 0600.
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		d := writeEnv(t, "JWT_SECRET=old\n", mode)
		_, err := d.Set("JWT_SECRET", "new")
		require.NoError(t, err)
		fi, err := os.Stat(d.Path)
		require.NoError(t, err)
		require.Equal(t, mode, fi.Mode().Perm())
	}
}

func TestSet_KeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another user")
	}
	d := writeEnv(t, "JWT_SECRET=old\n", 0o600)
	const uid, gid = 65534, 65534
	require.NoError(t, os.Chown(d.Path, uid, gid))

	_, err := d.Set("JWT_SECRET", "new")
	require.NoError(t, err)
	fi, err := os.Stat(d.Path)
	require.NoError(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(uid), st.Uid)
	require.Equal(t, uint32(gid), st.Gid)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}

func TestSet_NoOpWritesNothing(t *testing.T) {
	for name, content := range map[string]string{
		"bare":          "A=1\nJWT_SECRET=same\nB=2\n",
		"double quoted": "A=1\nJWT_SECRET=\"same\" # keep\n",
		"single quoted": "export JWT_SECRET='same'",
	} {
		t.Run(name, func(t *testing.T) {
			d := writeEnv(t, content, 0o600)
			past := time.Now().Add(-time.Hour).Truncate(time.Second)
			require.NoError(t, os.Chtimes(d.Path, past, past))
			before, err := os.Stat(d.Path)
			require.NoError(t, err)

			changed, err := d.Set("JWT_SECRET", "same")
			require.NoError(t, err)
			require.False(t, changed)

			after, err := os.Stat(d.Path)
			require.NoError(t, err)
			require.True(t, os.SameFile(before, after), "same inode: not replaced")
			require.Equal(t, past, after.ModTime(), "mtime unchanged: not written")
			require.Equal(t, content, readEnv(t, d))
			assertNoTempFiles(t, d)
		})
	}
}

func TestSet_ChangeReplacesInode(t *testing.T) {
	// The write goes through rename, so a reader that opened the old file
	// keeps a complete old file and never sees a partial one.
	d := writeEnv(t, "JWT_SECRET=old\n", 0o600)
	f, err := os.Open(d.Path)
	require.NoError(t, err)
	defer f.Close()
	before, err := f.Stat()
	require.NoError(t, err)

	_, err = d.Set("JWT_SECRET", "new")
	require.NoError(t, err)
	after, err := os.Stat(d.Path)
	require.NoError(t, err)
	require.False(t, os.SameFile(before, after))
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	require.Equal(t, "JWT_SECRET=old\n", string(buf[:n]))
	assertNoTempFiles(t, d)
}

func TestSet_RoundTripsAwkwardValues(t *testing.T) {
	values := []string{
		"",
		"plain-base64url_VALUE-0123456789",
		"with space",
		" leading and trailing ",
		"hash # not a comment",
		"a#b",
		`double "quotes"`,
		"single 'quote'",
		`both ' and " and \ and $HOME and ` + "`cmd`",
		`back\slash\n not a newline`,
		"tab\there",
		"=starts with equals",
		"ünïcödé",
	}
	for _, v := range values {
		d := writeEnv(t, "OTHER=1\n", 0o600)
		_, err := d.Set("JWT_SECRET", v)
		require.NoError(t, err, "%q", v)
		got, ok, err := d.Get("JWT_SECRET")
		require.NoError(t, err, "%q", v)
		require.True(t, ok)
		require.Equal(t, v, got)

		changed, err := d.Set("JWT_SECRET", v)
		require.NoError(t, err)
		require.False(t, changed, "setting %q again is a no-op", v)
	}
}

func TestSet_ShellReadsTheSameValue(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, v := range []string{
		"plain-base64url_VALUE",
		"with space # and hash",
		`double "quotes" and $HOME and ` + "`cmd` and \\",
		"single 'quote' and $HOME",
		"",
	} {
		d := writeEnv(t, "", 0o600)
		_, err := d.Set("JWT_SECRET", v)
		require.NoError(t, err)
		out, err := exec.Command(sh, "-c", `. "$1" && printf %s "$JWT_SECRET"`, "sh", d.Path).Output()
		require.NoError(t, err, "%q", v)
		require.Equal(t, v, string(out))
	}
}

func TestSet_RejectsBadInputAndChangesNothing(t *testing.T) {
	const content = "JWT_SECRET=old\n"
	d := writeEnv(t, content, 0o600)
	for _, v := range []string{"s3cr3t\nINJECTED=1", "s3cr3t\r", "s3cr3t\x00"} {
		changed, err := d.Set("JWT_SECRET", v)
		require.Error(t, err)
		require.False(t, changed)
		require.Contains(t, err.Error(), "invalid value")
		require.Contains(t, err.Error(), "JWT_SECRET")
		require.NotContains(t, err.Error(), "s3cr3t", "errors never quote values")
	}
	for _, k := range []string{"", "1A", "A-B", "A B", "A=B", "export JWT"} {
		_, err := d.Set(k, "v")
		require.ErrorContains(t, err, "invalid key", "%q", k)
	}
	require.Equal(t, content, readEnv(t, d))
	assertNoTempFiles(t, d)
}

func TestSet_MissingDirectory(t *testing.T) {
	d := Dotenv{Path: filepath.Join(t.TempDir(), "missing", ".env")}
	_, err := d.Set("JWT_SECRET", "s")
	require.Error(t, err)
	require.Contains(t, err.Error(), d.Path)
}

func TestSet_RefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.env")
	require.NoError(t, os.WriteFile(target, []byte("JWT_SECRET=old\n"), 0o600))
	link := filepath.Join(dir, ".env")
	require.NoError(t, os.Symlink("real.env", link))
	dangling := filepath.Join(dir, "dangling.env")
	require.NoError(t, os.Symlink("nowhere.env", dangling))

	for _, path := range []string{link, dangling} {
		d := Dotenv{Path: path}
		err := d.CheckWritable()
		require.ErrorContains(t, err, "is a symlink", "the pre-check refuses it")
		require.ErrorContains(t, err, "set env_sink.path to the file itself")
		changed, err := d.Set("JWT_SECRET", "new")
		require.ErrorContains(t, err, "is a symlink")
		require.False(t, changed)

		fi, err := os.Lstat(path)
		require.NoError(t, err)
		require.Equal(t, os.ModeSymlink, fi.Mode()&os.ModeSymlink, "the link is still a link")
	}
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "JWT_SECRET=old\n", string(data), "nothing written through the link")
	require.NoFileExists(t, filepath.Join(dir, "nowhere.env"), "nothing created where the dangling link points")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 3, "no probe or temp file left behind")
}

func TestSet_RefusesFileOthersCanRead(t *testing.T) {
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o606, 0o620, 0o602} {
		t.Run(mode.String(), func(t *testing.T) {
			const content = "A=1\nJWT_SECRET=old\n"
			d := writeEnv(t, content, mode)
			err := d.CheckWritable()
			require.ErrorContains(t, err, fmt.Sprintf("mode %04o lets its group or others read or change the secret", uint32(mode)), "the pre-check refuses it")
			require.ErrorContains(t, err, "chmod 600")
			require.ErrorContains(t, err, d.Path)

			changed, err := d.Set("JWT_SECRET", "new-secret")
			require.ErrorContains(t, err, "lets its group or others read")
			require.NotContains(t, err.Error(), "new-secret")
			require.False(t, changed)
			require.Equal(t, content, readEnv(t, d), "nothing changed")
			fi, err := os.Stat(d.Path)
			require.NoError(t, err)
			require.Equal(t, mode, fi.Mode().Perm(), "the mode is left as it was")
			assertNoTempFiles(t, d)
			entries, err := os.ReadDir(filepath.Dir(d.Path))
			require.NoError(t, err)
			require.Len(t, entries, 1, "no probe left behind")

			// Reading stays possible: the pre-check reports the file, and redaction still hides its value.
			v, ok, err := d.Get("JWT_SECRET")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, "old", v)
		})
	}
}

func assertNoTempFiles(t *testing.T, d Dotenv) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(d.Path))
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp-")
	}
}

// A sink that cannot be written is caught before anything changes; the check itself changes nothing.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "backend.env")
	if err := os.WriteFile(ok, []byte("A=1\nJWT_SECRET=x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (Dotenv{Path: ok}).CheckWritable(); err != nil {
		t.Fatalf("writable sink refused: %v", err)
	}
	if b, _ := os.ReadFile(ok); string(b) != "A=1\nJWT_SECRET=x\n" {
		t.Fatalf("the check changed the file: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("the check left files behind: %v", entries)
	}
	if err := (Dotenv{Path: filepath.Join(dir, "new.env")}).CheckWritable(); err != nil {
		t.Fatalf("an absent file in a writable dir can be created: %v", err)
	}
	// Root ignores file modes, so unwritable places are made of wrong types, not chmod.
	notDir := filepath.Join(dir, "file-not-dir")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{
		"parent is a file":  filepath.Join(notDir, "backend.env"),
		"path is a dir":     dir,
		"parent is missing": filepath.Join(dir, "missing", "backend.env"),
	} {
		if err := (Dotenv{Path: path}).CheckWritable(); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

// Checks of one file at once (targets that share it, or two runs of one target) each use a probe
// of their own: none removes another's, and none is left behind.
func TestCheckWritableConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "backend.env")
	require.NoError(t, os.WriteFile(path, []byte("JWT_SECRET=x\n"), 0o600))
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				errs <- (Dotenv{Path: path}).CheckWritable()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "probes left behind")
}
