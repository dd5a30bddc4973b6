package testenv

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
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

// distinctValues merges equal values under one name and drops the short ones, counting them. A
// value also read when the scan began is named once, as read at Check.
func distinctValues(in []leakBytes) ([]leakBytes, int) {
	var out []leakBytes
	var names [][]string
	index := map[string]int{}
	shortSeen := map[string]bool{}
	for _, v := range in {
		if len(v.b) < MinLeakValueLen {
			shortSeen[string(v.b)] = true
			continue
		}
		i, ok := index[string(v.b)]
		if !ok {
			i = len(out)
			index[string(v.b)] = i
			out = append(out, v)
			names = append(names, nil)
		}
		plain := strings.TrimSuffix(v.name, scanBeganSuffix)
		merged := false
		for j, n := range names[i] {
			if n == v.name || n == plain {
				merged = true
				break
			}
			if strings.TrimSuffix(n, scanBeganSuffix) == v.name {
				names[i][j], merged = v.name, true
				break
			}
		}
		if !merged {
			names[i] = append(names[i], v.name)
		}
	}
	for i := range out {
		out[i].name = strings.Join(names[i], " = ")
	}
	return out, len(shortSeen)
}

// leakEncodings are the forms a value is searched in. A value inside a longer base64 text is
// encoded differently depending on where it starts (offset mod 3), so the middle of each of the
// three encodings is searched as well.
var leakEncodings = []struct {
	name string
	enc  func(v []byte) []byte
}{
	{"raw", func(v []byte) []byte { return v }},
	{"JSON-escaped", jsonEscaped},
	{"base64", b64(base64.StdEncoding)},
	{"base64 unpadded", b64(base64.RawStdEncoding)},
	{"base64url", b64(base64.URLEncoding)},
	{"base64url unpadded", b64(base64.RawURLEncoding)},
	{"base64 within a longer text (offset 0)", b64Within(base64.RawStdEncoding, 0)},
	{"base64 within a longer text (offset 1)", b64Within(base64.RawStdEncoding, 1)},
	{"base64 within a longer text (offset 2)", b64Within(base64.RawStdEncoding, 2)},
	{"base64url within a longer text (offset 0)", b64Within(base64.RawURLEncoding, 0)},
	{"base64url within a longer text (offset 1)", b64Within(base64.RawURLEncoding, 1)},
	{"base64url within a longer text (offset 2)", b64Within(base64.RawURLEncoding, 2)},
	{"hex", func(v []byte) []byte { return []byte(hex.EncodeToString(v)) }},
	{"HEX", func(v []byte) []byte { return []byte(strings.ToUpper(hex.EncodeToString(v))) }},
}

func b64(enc *base64.Encoding) func([]byte) []byte {
	return func(v []byte) []byte { return []byte(enc.EncodeToString(v)) }
}

// b64Within returns the characters of enc(prefix + v) that depend on v alone, for a prefix of
// offset bytes: what any base64 text holding v at that offset (mod 3) contains.
func b64Within(enc *base64.Encoding, offset int) func([]byte) []byte {
	return func(v []byte) []byte {
		s := enc.EncodeToString(append(make([]byte, offset), v...))
		start := [3]int{0, 2, 3}[offset] // characters that share bits with the prefix
		end := len(s)
		if (offset+len(v))%3 != 0 {
			end-- // the last character shares bits with what follows
		}
		if end-start < MinLeakValueLen {
			return nil
		}
		return []byte(s[start:end])
	}
}

// jsonEscaped is v as it appears inside a JSON string, when that differs from v.
func jsonEscaped(v []byte) []byte {
	if !utf8.Valid(v) {
		return nil
	}
	b, err := json.Marshal(string(v))
	if err != nil || bytes.Equal(b[1:len(b)-1], v) {
		return nil
	}
	return b[1 : len(b)-1]
}

type leakHit struct {
	value, place int
	encodings    []string
}

// searchLeaks finds every needle (value × encoding) in every place. Needles are indexed by their
// first 8 bytes, so each place is read once however many needles there are.
func searchLeaks(vals, places []leakBytes) []leakHit {
	type needle struct {
		b     []byte
		value int
		enc   string
	}
	var needles []needle
	for vi, v := range vals {
		seen := map[string]int{}
		for _, e := range leakEncodings {
			b := e.enc(v.b)
			if len(b) < MinLeakValueLen {
				continue
			}
			if i, ok := seen[string(b)]; ok {
				needles[i].enc += "/" + e.name
				continue
			}
			seen[string(b)] = len(needles)
			needles = append(needles, needle{b, vi, e.name})
		}
	}
	const k = 8
	index := map[uint64][]int{}
	var first [1 << 16]bool
	for i, n := range needles {
		key := binary.LittleEndian.Uint64(n.b[:k])
		index[key] = append(index[key], i)
		first[binary.LittleEndian.Uint16(n.b[:2])] = true
	}
	var hits []leakHit
	for pi, p := range places {
		found := map[int]map[string]bool{}
		for i := 0; i+k <= len(p.b); i++ {
			if !first[binary.LittleEndian.Uint16(p.b[i:])] {
				continue
			}
			for _, ni := range index[binary.LittleEndian.Uint64(p.b[i:])] {
				n := needles[ni]
				if bytes.HasPrefix(p.b[i:], n.b) {
					if found[n.value] == nil {
						found[n.value] = map[string]bool{}
					}
					found[n.value][n.enc] = true
				}
			}
		}
		vis := make([]int, 0, len(found))
		for vi := range found {
			vis = append(vis, vi)
		}
		sort.Ints(vis)
		for _, vi := range vis {
			var encs []string
			for e := range found[vi] {
				encs = append(encs, e)
			}
			sort.Strings(encs)
			hits = append(hits, leakHit{value: vi, place: pi, encodings: encs})
		}
	}
	return hits
}
