// Package style holds checks of the code's layout that gofmt, vet and staticcheck do not make.
package style

import (
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/authops/authops"

// TestImportGroups: every Go file groups its imports as goimports does with -local: the standard
// library first, then other modules, then this module, one blank line between groups.
func TestImportGroups(t *testing.T) {
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	dir := strings.TrimSpace(string(root))
	out, err := exec.Command("git", "-C", dir, "ls-files", "--cached", "--others", "--exclude-standard", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Fields(string(out))
	checked := 0
	for _, f := range files {
		path := filepath.Join(dir, f)
		if _, err := os.Stat(path); err != nil {
			continue // deleted in the working tree
		}
		if why := importGroups(path); why != "" {
			t.Errorf("%s: %s", f, why)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no Go file checked")
	}
	t.Logf("%d Go files checked", checked)
}

// importGroups says how path's imports break the grouping, or "".
func importGroups(path string) string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
	if err != nil {
		return err.Error()
	}
	lastLine, lastKind, groupKind := 0, -1, -1
	for _, imp := range f.Imports {
		p := strings.Trim(imp.Path.Value, `"`)
		kind := kindOf(p)
		line := fset.Position(imp.Pos()).Line
		if imp.Doc != nil {
			line = fset.Position(imp.Doc.Pos()).Line
		}
		newGroup := lastKind >= 0 && line > lastLine+1
		switch {
		case lastKind < 0:
			groupKind = kind
		case newGroup && kind <= groupKind:
			return p + " starts a group out of order: standard library, then other modules, then " + module
		case newGroup:
			groupKind = kind
		case kind != groupKind:
			return p + " shares a group with imports of another kind: standard library, other modules and " + module + " each have their own"
		}
		lastLine, lastKind = fset.Position(imp.End()).Line, kind
	}
	return ""
}

// kindOf is 0 for the standard library, 1 for other modules, 2 for this module.
func kindOf(p string) int {
	switch {
	case p == module || strings.HasPrefix(p, module+"/"):
		return 2
	case strings.Contains(strings.SplitN(p, "/", 2)[0], "."):
		return 1
	}
	return 0
}
