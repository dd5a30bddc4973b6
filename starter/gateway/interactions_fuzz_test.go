package gateway

import (
	"net/url"
	"testing"

	"github.com/authops/authops/internal/slackui"
)

// FuzzInteraction feeds arbitrary bodies to the interaction decoder and the button values in
// them to the button decoder: neither may panic, a decoded interaction always names its user,
// and a decoded button always names a run.
func FuzzInteraction(f *testing.F) {
	button := slackui.ButtonValue{WorkflowID: "rotation-demo", FirstRunID: "r1", Action: "a2"}.Encode()
	for _, p := range []string{
		`{"type":"block_actions","user":{"id":"UBOB"},"team":{"id":"T1"},"actions":[{"action_id":"` + slackui.ActionApprove + `","value":` + quote(button) + `,"action_ts":"1.2"}]}`,
		`{"type":"view_submission","user":{"id":"UALICE"},"view":{"callback_id":"` + slackui.CallbackRejectModal + `","private_metadata":` + quote(button) + `}}`,
		`{"type":"block_actions","user":{"id":""}}`,
		`{"type":"block_actions","user":{"id":"U1"},"actions":[{"action_id":"` + slackui.ActionReject + `","value":"{\"w\":\"\"}"}]}`,
		`not json`,
	} {
		f.Add("payload=" + url.QueryEscape(p))
	}
	f.Add("payload=")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, body string) {
		cb, err := decodeInteraction([]byte(body))
		if err != nil {
			return
		}
		if cb.User.ID == "" {
			t.Fatalf("decoded an interaction with no user: %q", body)
		}
		for _, a := range cb.ActionCallback.BlockActions {
			if a == nil {
				continue
			}
			if v, err := slackui.DecodeButton(a.Value); err == nil && v.WorkflowID == "" {
				t.Fatalf("decoded a button that names no run: %q", a.Value)
			}
		}
	})
}

func quote(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		if r == '"' || r == '\\' {
			b = append(b, '\\')
		}
		b = append(b, string(r)...)
	}
	return string(append(b, '"'))
}
