package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/atomicfile"
	"github.com/authops/authops/internal/report"
)

// WriteReport writes a run's report as Markdown and JSON to its artifacts directory, with any
// archived timeline parts put back in.
func (a *Incidents) WriteReport(ctx context.Context, in contract.ReportInput) ([]contract.ArtifactRef, error) {
	dir, err := a.artifactDir(in.WorkflowID)
	if err != nil {
		return nil, err
	}
	r := in.Report
	var timeline []contract.Event
	for _, ref := range r.Archived {
		events, err := a.readArchive(ref)
		if err != nil {
			// The report is still written, with the gap on its timeline.
			activity.GetLogger(ctx).Warn("archived timeline part unreadable", "path", ref.Path, "error", err.Error())
			timeline = append(timeline, contract.Event{Actor: "authops", Action: "archived timeline part missing",
				Outcome: contract.StateFailed, Detail: contract.CleanText(fmt.Sprintf("%s (sha256 %s): %v", ref.Path, ref.Digest, err))})
			continue
		}
		timeline = append(timeline, events...)
	}
	r.Timeline = append(timeline, r.Timeline...)

	var js, md bytes.Buffer
	if err := report.JSON(&js, r); err != nil {
		return nil, fmt.Errorf("render report JSON: %w", err)
	}
	if err := report.Markdown(&md, r); err != nil {
		return nil, fmt.Errorf("render report Markdown: %w", err)
	}
	mdRef, err := writeArtifact(filepath.Join(dir, "report.md"), md.Bytes())
	if err != nil {
		return nil, err
	}
	jsRef, err := writeArtifact(filepath.Join(dir, "report.json"), js.Bytes())
	if err != nil {
		return nil, err
	}
	return []contract.ArtifactRef{mdRef, jsRef}, nil
}

// timelinePart is the content of an archived timeline part.
type timelinePart struct {
	Incident string           `json:"incident"`
	Part     int              `json:"part"`
	Events   []contract.Event `json:"events"`
}

// readArchive reads an archived part back, from under the artifacts directory only, and checks
// its digest.
func (a *Incidents) readArchive(ref contract.ArtifactRef) ([]contract.Event, error) {
	root := a.Config.ArtifactsDir()
	rel, err := filepath.Rel(root, filepath.Clean(ref.Path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil, errors.New("not under the artifacts directory")
	}
	b, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	if d := digest(b); d != ref.Digest {
		return nil, fmt.Errorf("digest mismatch: the file's sha256 is %s", d)
	}
	var p timelinePart
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return p.Events, nil
}

// ArchiveTimeline writes a part of a timeline to the artifacts directory.
func (a *Incidents) ArchiveTimeline(ctx context.Context, in contract.ArchiveInput) (contract.ArtifactRef, error) {
	if in.Part < 0 {
		return contract.ArtifactRef{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("archive part must not be negative, got %d", in.Part), contract.ErrTypeConfig, nil)
	}
	dir, err := a.artifactDir(in.Incident)
	if err != nil {
		return contract.ArtifactRef{}, err
	}
	b, err := json.MarshalIndent(timelinePart(in), "", "  ")
	if err != nil {
		return contract.ArtifactRef{}, err
	}
	ref, err := writeArtifact(filepath.Join(dir, fmt.Sprintf("timeline-part-%d.json", in.Part)), append(b, '\n'))
	if err != nil {
		return contract.ArtifactRef{}, err
	}
	ref.Events = len(in.Events)
	return ref, nil
}

// artifactName is a run id that is safe as a directory name.
var artifactName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$`)

// artifactDir returns (and creates) the artifacts directory of a run.
func (a *Incidents) artifactDir(id string) (string, error) {
	if !artifactName.MatchString(id) || strings.Contains(id, "..") {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%q cannot name an artifacts directory", contract.CleanText(id)), contract.ErrTypeConfig, nil)
	}
	dir := filepath.Join(a.Config.ArtifactsDir(), id)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("artifacts directory: %w", err)
	}
	return dir, nil
}

// writeArtifact writes data atomically and names it by path and SHA-256.
func writeArtifact(path string, data []byte) (contract.ArtifactRef, error) {
	if err := atomicfile.Write(path, data, atomicfile.Options{Perm: 0o640}); err != nil {
		return contract.ArtifactRef{}, fmt.Errorf("write %s: %w", path, err)
	}
	return contract.ArtifactRef{Path: path, Digest: digest(data)}, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
