package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/authops/authops/contract"
)

// viewsOpenTimeout bounds views.open: a trigger_id expires 3 s after the click.
const viewsOpenTimeout = 2500 * time.Millisecond

// verified reads the body of a Slack request and checks its signature (v0, timestamp within
// 5 minutes). It answers 404 when Slack is off, 413 for a body over MaxBody and 401 for a bad or
// missing signature; then it returns false and nothing else happens.
func (s *Server) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if !s.SlackOn() {
		http.Error(w, "Slack is off: SLACK_SIGNING_SECRET is not set", http.StatusNotFound)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err != nil {
		http.Error(w, "cannot read the request body", http.StatusBadRequest)
		return nil, false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, s.o.SigningSecret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		s.log.Warn("refused a Slack request", "path", r.URL.Path, "err", err)
		http.Error(w, "invalid Slack signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// ephemeral answers a Slack request with a message only the sender sees.
func ephemeral(w http.ResponseWriter, text string) {
	writeJSON(w, http.StatusOK, map[string]string{"response_type": "ephemeral", "text": text})
}

// who returns the actor of a Slack user id; Person is "" for a user not in people:.
func (s *Server) who(slackUser string) Actor {
	return Actor{Person: s.o.People[slackUser], SlackUser: slackUser}
}

// notAPerson is the refusal of a start or decision from a Slack user who is not in people:.
func notAPerson(slackUser string) string {
	return fmt.Sprintf("Refused: your Slack user id %s is not in people: of the runbook config, so the gateway cannot "+
		"sign for you. You can still read status (/runbook status <id>). Ask an admin to add your slack_id.", escape(slackUser))
}

// commands serves POST /slack/commands (`/runbook …`).
func (s *Server) commands(w http.ResponseWriter, r *http.Request) {
	body, ok := s.verified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed slash command", http.StatusBadRequest)
		return
	}
	team, user, trigger, responseURL := form.Get("team_id"), form.Get("user_id"), form.Get("trigger_id"), form.Get("response_url")
	if user == "" || responseURL == "" {
		http.Error(w, "malformed slash command: no user_id or response_url", http.StatusBadRequest)
		return
	}
	cmd, err := ParseCommand(form.Get("text"))
	if err != nil {
		ephemeral(w, escape(err.Error()))
		return
	}
	who := s.who(user)
	switch {
	case cmd.Verb == "help":
		ephemeral(w, escape(Help()))
		return
	case cmd.Mutates() && who.Person == "":
		ephemeral(w, notAPerson(user))
		return
	case cmd.Modal:
		// views.open now, before anything else: the trigger_id expires in 3 s.
		if err := s.openView(r.Context(), trigger, declareModal()); err != nil {
			ephemeral(w, escape("Could not open the declaration form: "+err.Error()+"\nusage: "+usages["declare"]))
			return
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	cmd.UpdateID = UpdateID(team, user, trigger)
	if cmd.Verb == "declare" {
		cmd.ID = IncidentIDFor(trigger)
	}
	text := "/runbook " + strings.Join(strings.Fields(form.Get("text")), " ")
	ephemeral(w, escape("Working on `"+text+"` …"))
	s.async(cmd.Verb, func(ctx context.Context) {
		out, err := s.o.Runs.Run(ctx, who, cmd)
		s.respond(ctx, responseURL, s.outcome(text, out, err))
	})
}

// outcome is the message that reports a command's or a decision's outcome.
func (s *Server) outcome(what, out string, err error) string {
	switch {
	case err != nil && Unreachable(err):
		s.log.Warn("Temporal unreachable", "what", what, "err", err)
		return escape(what) + ": Temporal is unreachable, try again."
	case err != nil && strings.TrimSpace(out) != "":
		return escape(what) + ":\n" + block(out)
	case err != nil:
		return escape(what) + ": refused, nothing changed:\n" + block(err.Error())
	}
	return escape(what) + ":\n" + block(out)
}

// respond posts an ephemeral message to a request's response_url.
func (s *Server) respond(ctx context.Context, responseURL, text string) {
	if responseURL == "" {
		return
	}
	err := slack.PostWebhookCustomHTTPContext(ctx, responseURL, s.o.HTTPClient, &slack.WebhookMessage{
		ResponseType: slack.ResponseTypeEphemeral, Text: text,
	})
	if err != nil {
		// A response_url is a capability to post into the user's Slack for 30 minutes: it stays
		// out of the log, and net/http errors quote it.
		s.log.Warn("response_url post failed", "err", strings.ReplaceAll(err.Error(), responseURL, "[response_url]"))
	}
}

// direct sends a direct message to a Slack user (the outcome of a modal, which has no
// response_url).
func (s *Server) direct(ctx context.Context, user, text string) {
	if s.slack == nil {
		s.log.Info("no bot token: outcome not sent to Slack", "user", user, "text", text)
		return
	}
	if _, _, err := s.slack.PostMessageContext(ctx, user, slack.MsgOptionText(text, false)); err != nil {
		s.log.Warn("direct message failed", "user", user, "err", err)
	}
}

// openView opens a modal; it needs the bot token.
func (s *Server) openView(ctx context.Context, triggerID string, v slack.ModalViewRequest) error {
	if s.slack == nil {
		return errors.New("the gateway has no Slack bot token (SLACK_BOT_TOKEN)")
	}
	if triggerID == "" {
		return errors.New("the request has no trigger_id")
	}
	ctx, cancel := context.WithTimeout(ctx, viewsOpenTimeout)
	defer cancel()
	if _, err := s.slack.OpenViewContext(ctx, triggerID, v); err != nil {
		return fmt.Errorf("views.open: %w", err)
	}
	return nil
}

// escape makes text safe for Slack's mrkdwn: no mention, link or channel ping can be forged.
func escape(s string) string {
	s = contract.CleanText(s)
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// block shows text verbatim in a code block.
func block(s string) string {
	s = strings.ReplaceAll(escape(strings.TrimRight(s, "\n")), "```", "'''")
	return "```\n" + s + "\n```"
}

// slackError is the JSON body of a view submission's validation errors.
func viewErrors(w http.ResponseWriter, errs map[string]string) {
	writeJSON(w, http.StatusOK, map[string]any{"response_action": "errors", "errors": errs})
}

// decodeInteraction decodes the payload form field of an interaction request.
func decodeInteraction(body []byte) (slack.InteractionCallback, error) {
	var cb slack.InteractionCallback
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return cb, fmt.Errorf("malformed form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return cb, errors.New("no payload")
	}
	if err := json.Unmarshal([]byte(payload), &cb); err != nil {
		return cb, fmt.Errorf("malformed payload: %w", err)
	}
	if cb.User.ID == "" {
		return cb, errors.New("payload names no user")
	}
	return cb, nil
}
