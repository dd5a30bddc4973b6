package register

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/worker"
)

// recorder is a registry that keeps the activities registered on it; the workflows are not
// looked at.
type recorder struct {
	worker.Registry
	activities []any
}

func (r *recorder) RegisterActivity(a any) { r.activities = append(r.activities, a) }
func (r *recorder) RegisterWorkflow(any)   {}

// registeredNames are the activity names the worker registers: every exported method of each
// activity type, as the SDK registers a struct.
func registeredNames(t *testing.T) map[string]string {
	t.Helper()
	var r recorder
	Register(&r, Deps{})
	names := map[string]string{}
	for _, a := range r.activities {
		typ := reflect.TypeOf(a)
		require.Equal(t, reflect.Pointer, typ.Kind(), "register activity types by pointer, not %s", typ)
		for i := range typ.NumMethod() {
			m := typ.Method(i)
			require.NotContains(t, names, m.Name, "%s is an activity of %s and of %s", m.Name, names[m.Name], typ)
			names[m.Name] = typ.String()
		}
	}
	return names
}

// actNames reads the constants of contract/act from its source: each name and its value.
func actNames(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "contract", "act", "*.go"))
	require.NoError(t, err)
	consts := map[string]string{}
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					require.True(t, ok && lit.Kind == token.STRING, "act.%s is not a string literal", n.Name)
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					consts[n.Name] = v
				}
			}
		}
	}
	require.NotEmpty(t, consts)
	return consts
}

// Workflows schedule activities by the names in contract/act: a name that no worker registers
// fails a run at the step it names, long after a deploy. Each constant is its activity's method
// name, and every registered activity has one.
func TestActivityNamesAreRegistered(t *testing.T) {
	registered := registeredNames(t)
	consts := actNames(t)
	for name, value := range consts {
		require.Equal(t, name, value, "act.%s names the activity %q: the constant and the method share the name", name, value)
		require.Contains(t, registered, value, "act.%s = %q is no registered activity", name, value)
	}
	for name, typ := range registered {
		require.Contains(t, consts, name, "%s.%s is registered but has no name in contract/act", typ, name)
	}
	require.Len(t, consts, len(registered))
	// SealMessage and OpenMessage run as local activities, which a worker runs only when they
	// are registered on it.
	require.Contains(t, registered, "SealMessage")
	require.Contains(t, registered, "OpenMessage")
}
