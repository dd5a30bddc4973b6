package secretstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	vault "github.com/hashicorp/vault/api"
)

const (
	// metaPrefix marks the custom metadata keys this store owns: one per labelled version
	// ("authops.v12") and the revision.
	metaPrefix = "authops."
	metaRev    = metaPrefix + "rev"
	// maxEntries keeps the table inside Vault's limit of 64 custom metadata keys; older
	// deprecated and failed entries are dropped first. Vault keeps as many values.
	maxEntries = 48
	// maxEntryLen is Vault's limit on a custom metadata value.
	maxEntryLen = 512
	opRollBack  = "rollback"
	opForeign   = "foreign" // a version written by someone else, found unlabelled
)

// entry is one version's label in custom metadata, kept short for Vault's limits.
type entry struct {
	Stage   Stage  `json:"s"`
	Op      string `json:"o"`
	FP      string `json:"f"`
	Demoted string `json:"d,omitempty"`
	Key     string `json:"k,omitempty"`
}

// vaultState is the secret as read from Vault: the labelled versions (records without values)
// and what the next writes are checked against.
type vaultState struct {
	state
	current int             // KV current_version: the check-and-set base of the next data write
	rev     string          // the table's revision, re-checked before the table is written
	gone    map[string]bool // versions whose value Vault deleted or destroyed
	extra   map[string]any  // custom metadata keys that are not ours, written back as they were
	// unlabelled are versions newer than the table knows, oldest first: a write whose table
	// update failed, or someone else's write.
	unlabelled []int
	// mine is the unlabelled version a retry of this call's key wrote before, reused instead of
	// writing again.
	mine *record
	// write is the new version to store with its value, set by add.
	write *record
}

// load reads the secret's metadata; a secret that does not exist yet is an empty store.
func (v *Vault) load(ctx context.Context) (*vaultState, error) {
	s := &vaultState{state: state{Format: fileFormat, Name: v.path}, gone: map[string]bool{}, extra: map[string]any{}}
	m, err := v.kv.GetMetadata(ctx, v.path)
	if errors.Is(err, vault.ErrSecretNotFound) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", classify(err))
	}
	s.current = m.CurrentVersion
	for k, val := range m.Versions {
		if !val.DeletionTime.IsZero() || val.Destroyed {
			s.gone[k] = true
		}
	}
	labelled := map[int]bool{}
	for k, raw := range m.CustomMetadata {
		str, _ := raw.(string)
		switch {
		case k == metaRev:
			s.rev = str
		case strings.HasPrefix(k, metaPrefix+"v"):
			n, err := strconv.Atoi(strings.TrimPrefix(k, metaPrefix+"v"))
			var e entry
			if err != nil || n < 1 || json.Unmarshal([]byte(str), &e) != nil || !e.Stage.valid() {
				return nil, fmt.Errorf("custom metadata key %s is corrupt", k)
			}
			id := strconv.Itoa(n)
			r := &record{Version: Version{ID: id, Stage: e.Stage, Fingerprint: e.FP, IdempotencyKey: e.Key}, Op: e.Op, Demoted: e.Demoted}
			r.CreatedAt = m.Versions[id].CreatedTime.UTC().Round(0)
			s.Versions = append(s.Versions, r)
			labelled[n] = true
		default:
			s.extra[k] = raw
		}
	}
	sort.Slice(s.Versions, func(i, j int) bool { return versionNumber(s.Versions[i].ID) < versionNumber(s.Versions[j].ID) })
	for n := 1; n <= s.current; n++ {
		if !labelled[n] && n > s.newestLabelled() {
			s.unlabelled = append(s.unlabelled, n)
		}
	}
	if err := s.checkTable(); err != nil {
		return nil, fmt.Errorf("custom metadata is corrupt: %s", err)
	}
	return s, nil
}

func (s *vaultState) newestLabelled() int {
	if len(s.Versions) == 0 {
		return 0
	}
	return versionNumber(s.Versions[len(s.Versions)-1].ID)
}

// versionNumber is the KV version of an id, or 0 for an id that is none.
func versionNumber(id string) int {
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || strconv.Itoa(n) != id {
		return 0
	}
	return n
}

// checkTable is state.check without values: unique ids and keys, one version per singleton
// stage, and values still kept for those.
func (s *vaultState) checkTable() error {
	keys := map[string]bool{}
	seen := map[Stage]string{}
	for _, r := range s.Versions {
		if r.IdempotencyKey != "" {
			if keys[r.IdempotencyKey] {
				return fmt.Errorf("duplicate idempotency key on version %s", r.ID)
			}
			keys[r.IdempotencyKey] = true
		}
		if r.Stage.singleton() {
			if other, ok := seen[r.Stage]; ok {
				return fmt.Errorf("versions %s and %s are both %s", other, r.ID, r.Stage)
			}
			seen[r.Stage] = r.ID
		}
	}
	return nil
}

// label reads the unlabelled versions and labels them: the one this call's key wrote becomes
// s.mine, to be reused; an authops write whose table update was lost is failed (nothing served
// it), and someone else's write is deprecated.
func (v *Vault) label(ctx context.Context, s *vaultState, key string) (changed bool, err error) {
	for _, n := range s.unlabelled {
		id := strconv.Itoa(n)
		r := &record{Version: Version{ID: id, Stage: StageDeprecated}, Op: opForeign}
		if !s.gone[id] {
			kv, err := v.kv.GetVersion(ctx, v.path, n)
			if errors.Is(err, vault.ErrSecretNotFound) { // beyond max_versions: Vault forgot it
				s.Versions = append(s.Versions, r)
				changed = true
				continue
			}
			if err != nil {
				return false, fmt.Errorf("read version %s: %w", id, classify(err))
			}
			value, _ := kv.Data["value"].(string)
			r.Fingerprint = v.Fingerprint(value)
			r.CreatedAt = kv.VersionMetadata.CreatedTime.UTC().Round(0)
			if k, _ := kv.Data["key"].(string); k != "" && s.byKey(k) == nil {
				r.IdempotencyKey, r.Stage = k, StageFailed
				r.Op, _ = kv.Data["op"].(string)
				if k == key && value != "" {
					r.Value = value
					s.mine = r
					continue
				}
			}
		}
		s.Versions = append(s.Versions, r)
		changed = true
	}
	s.unlabelled = nil
	return changed, nil
}

// add records a new version of value with stage, to be written by update, and returns its
// record. A version this key wrote before (s.mine) is reused with its own value.
func (v *Vault) add(s *vaultState, op, key string, stage Stage, value string) *record {
	r := &record{Version: Version{Stage: stage, IdempotencyKey: key, Fingerprint: v.Fingerprint(value)}, Op: op, Value: value}
	// A create's value is random and a rollback's is fixed by its key; an import is reused only
	// for the same value.
	if m := s.mine; m != nil && m.Op == op && (op != opImport || m.Fingerprint == r.Fingerprint) {
		r.ID, r.CreatedAt, r.Fingerprint, r.Value = m.ID, m.CreatedAt, m.Fingerprint, m.Value
		s.mine = nil
	} else {
		s.write = r
	}
	s.Versions = append(s.Versions, r)
	return r
}

// update is the frame of every change: read, label what is unlabelled, let fn change the table
// (and add at most one value), write the value with check-and-set on the version read, then the
// table. A concurrent writer makes one of the two writes fail with ErrConflict, and a failure
// after the value was written leaves an unlabelled version that the retry reuses.
func (v *Vault) update(ctx context.Context, key string, fn func(s *vaultState) (changed bool, err error)) error {
	s, err := v.load(ctx)
	if err != nil {
		return err
	}
	labelled, err := v.label(ctx, s, key)
	if err != nil {
		return err
	}
	changed, err := fn(s)
	if err != nil {
		return err
	}
	if m := s.mine; m != nil { // written by this key before, but not needed now: keep it labelled
		m.Value = ""
		s.Versions = append(s.Versions, m)
		sort.Slice(s.Versions, func(i, j int) bool { return versionNumber(s.Versions[i].ID) < versionNumber(s.Versions[j].ID) })
		labelled = true
	}
	if !changed && !labelled {
		return nil
	}
	if r := s.write; r != nil {
		out, err := v.kv.Put(ctx, v.path, map[string]any{"value": r.Value, "key": r.IdempotencyKey, "op": r.Op}, vault.WithCheckAndSet(s.current))
		if err != nil {
			return fmt.Errorf("write version: %w", classify(err))
		}
		r.ID = strconv.Itoa(out.VersionMetadata.Version)
		r.CreatedAt = out.VersionMetadata.CreatedTime.UTC().Round(0)
	}
	if err := s.checkTable(); err != nil {
		return fmt.Errorf("refusing to write inconsistent stages: %s", err)
	}
	return v.writeTable(ctx, s)
}

// writeTable writes the stages into custom metadata. Vault has no check-and-set on metadata, so
// the revision read is checked again right before: a concurrent stage change makes this write
// fail rather than be overwritten, except within the two requests' round trip.
func (v *Vault) writeTable(ctx context.Context, s *vaultState) error {
	meta := map[string]any{}
	for k, val := range s.extra {
		meta[k] = val
	}
	for _, r := range s.prunedEntries() {
		b, err := json.Marshal(entry{Stage: r.Stage, Op: r.Op, FP: r.Fingerprint, Demoted: r.Demoted, Key: r.IdempotencyKey})
		if err != nil {
			return fmt.Errorf("encode stages: %w", err)
		}
		if len(b) > maxEntryLen {
			return fmt.Errorf("stage entry of version %s is %d bytes, Vault allows %d: idempotency key too long", r.ID, len(b), maxEntryLen)
		}
		meta[metaPrefix+"v"+r.ID] = string(b)
	}
	nonce := make([]byte, 8)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("generate revision: %w", err)
	}
	meta[metaRev] = hex.EncodeToString(nonce)
	now, err := v.load(ctx)
	if err != nil {
		return err
	}
	if now.rev != s.rev {
		return fmt.Errorf("stages changed while this call ran: %w", ErrConflict)
	}
	err = v.kv.PutMetadata(ctx, v.path, vault.KVMetadataPutInput{
		// Every data write must name the version it replaces: a writer that does not fails.
		CASRequired:    true,
		CustomMetadata: meta,
		MaxVersions:    maxEntries,
	})
	if err != nil {
		return fmt.Errorf("write stages: %w", classify(err))
	}
	return nil
}

// prunedEntries are the records the table keeps: all but the oldest deprecated and failed ones
// beyond maxEntries.
func (s *vaultState) prunedEntries() []*record {
	drop := len(s.Versions) - maxEntries
	out := make([]*record, 0, len(s.Versions))
	for _, r := range s.Versions {
		if drop > 0 && (r.Stage == StageDeprecated || r.Stage == StageFailed) {
			drop--
			continue
		}
		out = append(out, r)
	}
	return out
}
