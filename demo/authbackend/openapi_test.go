package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The backend contract in docs/backend-api.yaml, as far as the conformance test reads it.
type apiDoc struct {
	Paths      map[string]map[string]apiOperation `yaml:"paths"`
	Components struct {
		Schemas map[string]apiSchema `yaml:"schemas"`
	} `yaml:"components"`
}

type apiOperation struct {
	Security  []map[string][]string  `yaml:"security"`
	Responses map[string]apiResponse `yaml:"responses"`
}

type apiResponse struct {
	Content map[string]struct {
		Schema apiSchema `yaml:"schema"`
	} `yaml:"content"`
}

type apiSchema struct {
	Ref        string               `yaml:"$ref"`
	Type       string               `yaml:"type"`
	Required   []string             `yaml:"required"`
	Properties map[string]apiSchema `yaml:"properties"`
	Enum       []string             `yaml:"enum"`
	Nullable   bool                 `yaml:"nullable"`
}

func loadAPIDoc(t *testing.T) apiDoc {
	t.Helper()
	b, err := os.ReadFile("../../docs/backend-api.yaml")
	require.NoError(t, err)
	var doc apiDoc
	require.NoError(t, yaml.Unmarshal(b, &doc))
	require.NotEmpty(t, doc.Paths)
	return doc
}

// resolve follows a local $ref.
func (d apiDoc) resolve(s apiSchema) apiSchema {
	if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
		return d.Components.Schemas[name]
	}
	return s
}

// conform says how body breaks the schema of op's answer with status, or "".
func (d apiDoc) conform(op apiOperation, status int, body []byte) string {
	r, ok := op.Responses[strconv.Itoa(status)]
	if !ok {
		return fmt.Sprintf("status %d is not documented", status)
	}
	c, ok := r.Content["application/json"]
	if !ok {
		return ""
	}
	s := d.resolve(c.Schema)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Sprintf("not a JSON object: %v: %s", err, body)
	}
	for _, k := range s.Required {
		if _, ok := got[k]; !ok {
			return fmt.Sprintf("required field %q missing: %s", k, body)
		}
	}
	for k, p := range s.Properties {
		v, present := got[k]
		if !present || len(p.Enum) == 0 || (v == nil && p.Nullable) {
			continue
		}
		if str, ok := v.(string); !ok || !slices.Contains(p.Enum, str) {
			return fmt.Sprintf("field %q is %v, not one of %v", k, v, p.Enum)
		}
	}
	return ""
}

// TestBackendMeetsTheContract: the demo backend answers every operation docs/backend-api.yaml
// documents as it says (status and JSON shape), an admin-secured one refuses a call without the
// admin token, and every operation in the file is exercised here, so the file cannot drift from
// what the runbooks use.
func TestBackendMeetsTheContract(t *testing.T) {
	doc := loadAPIDoc(t)
	f := newFixture(t)
	user := f.login("bob").AccessToken
	admin := f.login("alice").AccessToken
	type call struct {
		method, path string
		auth         string // "admin", a user token, or ""
		body         any
		want         int
	}
	calls := []call{
		{"GET", "/healthz", "", nil, 200},
		{"POST", "/auth/token", "", map[string]string{"username": "carol", "password": passwordOf(t, "carol")}, 200},
		{"POST", "/auth/token", "", map[string]string{"username": "carol", "password": "wrong"}, 401},
		{"GET", "/auth/me", user, nil, 200},
		{"GET", "/auth/me", "", nil, 401},
		{"GET", "/admin/users", admin, nil, 200},
		{"GET", "/admin/users", user, nil, 403},
		{"GET", "/_control/state", "admin", nil, 200},
		{"PUT", "/_control/log-level", "admin", map[string]string{"level": "debug"}, 200},
		{"PUT", "/_control/log-level", "admin", map[string]string{"level": "loud"}, 400},
		{"POST", "/_control/password-reset", "admin", map[string]any{"usernames": []string{"carol"}, "required": true}, 200},
		{"POST", "/auth/token", "", map[string]string{"username": "carol", "password": passwordOf(t, "carol")}, 403},
		{"POST", "/_control/password-reset", "admin", map[string]any{"usernames": []string{"carol"}, "required": false}, 200},
		{"POST", "/_control/sessions/revoke", "admin", map[string]any{"usernames": []string{"bob"}}, 200},
		{"POST", "/_control/sessions/revoke", "admin", map[string]any{"usernames": []string{"nobody"}}, 400},
		{"POST", "/_control/sessions/restore", "admin", map[string]string{"username": "bob"}, 200},
		{"POST", "/_control/sessions/revoke", "admin", map[string]string{"username": ""}, 200},
	}
	seen := map[string]bool{}
	for _, c := range calls {
		name := c.method + " " + c.path
		op, ok := doc.Paths[c.path][strings.ToLower(c.method)]
		require.True(t, ok, "%s is not in the contract", name)
		seen[name] = true
		req := request{method: c.method, path: c.path, body: c.body, bearer: c.auth}
		if c.auth == "admin" {
			req.bearer = testAdminToken
		}
		r := f.do(req)
		require.Equal(t, c.want, r.status, "%s: %s", name, r.body)
		require.Empty(t, doc.conform(op, r.status, r.body), name)

		if len(op.Security) > 0 && op.Security[0]["admin"] != nil {
			req.bearer = ""
			r := f.do(req)
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}, r.status,
				"%s without the admin token: %s", name, r.body)
			req.bearer = user
			r = f.do(req)
			require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, r.status,
				"%s with a user's token: %s", name, r.body)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			require.True(t, seen[strings.ToUpper(method)+" "+path], "the contract documents %s %s, which this test does not exercise", method, path)
		}
	}
}
