package testenv

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/crypto/ssh"

	"github.com/authops/authops/internal/demoenv"
)

// demoValues reads the secrets of a demo directory, as the test: nothing goes through a workflow.
func demoValues(p demoenv.Paths) ([]leakBytes, error) {
	var out []leakBytes
	env, err := os.ReadFile(p.EnvFile)
	if err != nil {
		return nil, fmt.Errorf("read env file: %w", err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "JWT_SECRET="); ok {
			out = append(out, leakBytes{"JWT_SECRET of " + filepath.Base(p.EnvFile), []byte(strings.Trim(v, `"'`))})
		}
	}
	tok, err := os.ReadFile(p.AdminTokenFile)
	if err != nil {
		return nil, fmt.Errorf("read admin token: %w", err)
	}
	out = append(out, leakBytes{"admin token", bytes.TrimSpace(tok)})

	pws, err := os.ReadDir(p.PasswordsDir)
	if err != nil {
		return nil, fmt.Errorf("list passwords: %w", err)
	}
	for _, f := range pws {
		b, err := os.ReadFile(filepath.Join(p.PasswordsDir, f.Name()))
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		out = append(out, leakBytes{"password of " + f.Name(), bytes.TrimSpace(b)})
	}

	store, err := storeValues(p.SecretsDir)
	if err != nil {
		return nil, err
	}
	out = append(out, store...)

	for _, person := range demoenv.People() {
		b, err := os.ReadFile(p.KeyFile(person))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read SSH key of %s: %w", person, err)
		}
		out = append(out, leakBytes{"SSH private key file of " + person, b})
		key, err := ssh.ParseRawPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("parse SSH key of %s: %w", person, err)
		}
		switch k := key.(type) {
		case *ed25519.PrivateKey:
			out = append(out, leakBytes{"ed25519 seed of " + person, k.Seed()})
		case ed25519.PrivateKey:
			out = append(out, leakBytes{"ed25519 seed of " + person, k.Seed()})
		}
	}
	return out, nil
}

// storeValues reads every version value and the fingerprint key of a file secret store (see
// internal/secretstore: <name>.json holds {"versions": [{"id", "stage", "value"}]}), including
// temp files a crashed writer left.
func storeValues(dir string) ([]leakBytes, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list secret store: %w", err)
	}
	var out []leakBytes
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case name == "fingerprint.key":
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read fingerprint key: %w", err)
			}
			out = append(out, leakBytes{"secret store fingerprint key", b})
		case strings.HasSuffix(name, ".json") || strings.Contains(name, ".json.tmp-"):
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read secret store %s: %w", name, err)
			}
			var st struct {
				Name     string `json:"name"`
				Versions []struct {
					ID    string `json:"id"`
					Stage string `json:"stage"`
					Value string `json:"value"`
				} `json:"versions"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				if strings.HasPrefix(name, ".") {
					continue // a temp file cut short
				}
				// Not the JSON error itself: it may quote part of a secret.
				return nil, fmt.Errorf("secret store file %s is not valid JSON", name)
			}
			for _, v := range st.Versions {
				if v.Value != "" {
					out = append(out, leakBytes{fmt.Sprintf("secret store %s version %s (%s)", st.Name, v.ID, v.Stage), []byte(v.Value)})
				}
			}
		}
	}
	return out, nil
}

// leakPlaces exports and decodes every workflow history (the listed runs and the named ones)
// and returns them with the logs and the announcements.
func (e *Env) leakPlaces(t testing.TB, named []leakRun) ([]leakBytes, []leakRun, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var runs []leakRun
	seen := map[leakRun]bool{}
	add := func(r leakRun) {
		if !seen[r] {
			seen[r] = true
			runs = append(runs, r)
		}
	}
	var token []byte
	for {
		resp, err := e.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, nil, fmt.Errorf("list workflows: %w", err)
		}
		for _, x := range resp.GetExecutions() {
			add(leakRun{x.GetExecution().GetWorkflowId(), x.GetExecution().GetRunId()})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	for _, r := range named {
		if r.runID == "" {
			d, err := e.Client.DescribeWorkflow(ctx, r.workflowID, "")
			if err != nil {
				return nil, nil, fmt.Errorf("describe %s: %w", r.workflowID, err)
			}
			r.runID = d.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		}
		add(r)
	}
	var places []leakBytes
	for _, r := range runs {
		out, err := e.temporalCmd(ctx, "workflow", "show", "--workflow-id", r.workflowID, "--run-id", r.runID,
			"--output", "json").Output()
		if err != nil {
			return nil, nil, fmt.Errorf("export history of %s/%s: %w", r.workflowID, r.runID, err)
		}
		places = append(places, leakBytes{"history of " + r.workflowID + "/" + r.runID, []byte(Searchable(t, string(out)))})
	}
	var notes bytes.Buffer
	for _, m := range e.Notes.Messages() {
		b, err := json.Marshal(m)
		if err != nil {
			return nil, nil, err
		}
		notes.Write(append(b, '\n'))
	}
	places = append(places,
		leakBytes{"worker log", []byte(e.WorkerLog.String())},
		leakBytes{"backend log", []byte(e.BackendLog.String())},
		leakBytes{"dev server log", []byte(e.ServerLog.String())},
		leakBytes{"announcements", notes.Bytes()})
	return places, runs, nil
}

// checkDatabaseHolds is the positive control of the database search: the file searched must be
// where the dev server stores, so the id of every workflow exported must be in it or its -wal.
func (e *Env) checkDatabaseHolds(t testing.TB, runs []leakRun) {
	t.Helper()
	db, err := os.ReadFile(e.TemporalDB())
	if err != nil {
		t.Fatalf("leak scan: read dev server database: %v", err)
	}
	wal, err := os.ReadFile(e.TemporalDB() + "-wal")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leak scan: read dev server database -wal: %v", err)
	}
	for _, r := range runs {
		if !bytes.Contains(db, []byte(r.workflowID)) && !bytes.Contains(wal, []byte(r.workflowID)) {
			t.Fatalf("leak scan: the dev server database does not hold workflow %s: it is not where Temporal stores, and searching it would prove nothing",
				r.workflowID)
		}
	}
}
