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
	return Actor{Person: s.directory().People[slackUser], SlackUser: slackUser}
}

// notAPerson is the refusal of a start or decision from a Slack user who is not in people:.
func notAPerson(slackUser string) string {
	return fmt.Sprintf("Refused: your Slack user id %s is not in people: of the runbook config, so the gateway cannot "+
		"sign for you. You can still read status (/runbook status <id>). Ask an admin to add your slack_id.", escape(slackUser))
}

// answer is what the gateway decided about one Slack request, whatever carried it. The command
// and interaction logic (slashCommand, interaction) builds it and knows no transport; HTTP
// writes it as the response (writeAnswer), Socket Mode as the envelope's ack (socketmode.go).
type answer struct {
	// malformed says why the request cannot be read (HTTP 400). Nothing is done.
	malformed string
	// text is an ephemeral message for the sender: a refusal, a usage, help. A slash command's
	// answer carries it (inline); an interaction's goes through notify.
	text   string
	inline bool
	// errors are a view submission's validation errors (response_action: errors).
	errors map[string]string
	// work is the Temporal call, if the request asks for one.
	work *handoff
	// notify reaches the sender later: the request's response_url, or a direct message for a
	// modal's submission (which has none).
	notify func(ctx context.Context, text string)
}

// handoff is the Temporal call a request asks for.
type handoff struct {
	what  string // for the log
	title string // what the outcome is about: "/runbook rotate demo", "approve rotation-demo"
	call  func(ctx context.Context) (string, error)
}

// pending is the answer to a slash command while its call goes on.
func (h *handoff) pending() string { return escape("Working on `" + h.title + "` …") }

// writeAnswer answers an HTTP request from Slack. Over HTTP the answer goes at once and the
// Temporal call runs in the background: Slack wants the answer within 3 s and does not send the
// request again once answered. The outcome goes through notify.
func (s *Server) writeAnswer(w http.ResponseWriter, a answer) {
	switch {
	case a.malformed != "":
		http.Error(w, a.malformed, http.StatusBadRequest)
		return
	case a.errors != nil:
		viewErrors(w, a.errors)
		return
	}
	text := a.text
	if a.work != nil && a.inline {
		text = a.work.pending()
	}
	if a.inline && text != "" {
		ephemeral(w, text)
	} else {
		w.WriteHeader(http.StatusOK)
		if text != "" && a.notify != nil {
			s.async("notice", func(ctx context.Context) { a.notify(ctx, text) })
		}
	}
	if h := a.work; h != nil {
		s.async(h.what, func(ctx context.Context) {
			out, err := h.call(ctx)
			a.notify(ctx, s.outcome(h.title, out, err))
		})
	}
}

// toResponseURL notifies through a request's response_url.
func (s *Server) toResponseURL(responseURL string) func(context.Context, string) {
	return func(ctx context.Context, text string) { s.respond(ctx, responseURL, text) }
}

// commands serves POST /slack/commands (`/runbook …`): the signature and the form are HTTP's,
// the rest is slashCommand's.
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
	s.writeAnswer(w, s.slashCommand(r.Context(), slack.SlashCommand{
		TeamID: form.Get("team_id"), UserID: form.Get("user_id"), Command: form.Get("command"), Text: form.Get("text"),
		TriggerID: form.Get("trigger_id"), ResponseURL: form.Get("response_url"),
	}))
}

// slashCommand decides what a `/runbook` command gets, over HTTP or Socket Mode.
func (s *Server) slashCommand(ctx context.Context, sc slack.SlashCommand) answer {
	if sc.UserID == "" || sc.ResponseURL == "" {
		return answer{malformed: "malformed slash command: no user_id or response_url"}
	}
	a := answer{inline: true, notify: s.toResponseURL(sc.ResponseURL)}
	cmd, err := ParseCommand(sc.Text)
	if err != nil {
		a.text = escape(err.Error())
		return a
	}
	who := s.who(sc.UserID)
	switch {
	case cmd.Verb == "help":
		a.text = escape(Help())
		return a
	case cmd.Mutates() && who.Person == "":
		a.text = notAPerson(sc.UserID)
		return a
	case cmd.Modal:
		// views.open now, before anything else: the trigger_id expires in 3 s.
		if err := s.openView(ctx, sc.TriggerID, declareModal()); err != nil {
			a.text = escape("Could not open the declaration form: " + err.Error() + "\nusage: " + usages["declare"])
		}
		return a
	}
	cmd.UpdateID = UpdateID(sc.TeamID, sc.UserID, sc.TriggerID)
	if cmd.Verb == "declare" {
		cmd.ID = IncidentIDFor(sc.TriggerID)
	}
	a.work = &handoff{what: cmd.Verb, title: "/runbook " + strings.Join(strings.Fields(sc.Text), " "),
		call: func(ctx context.Context) (string, error) { return s.o.Runs.Run(ctx, who, cmd) }}
	return a
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
	if why := s.checkResponseURL(responseURL); why != "" {
		// Whoever can forge a request could otherwise make the gateway post anywhere.
		s.count.refusedResponseURL()
		s.log.Warn("response_url refused, nothing posted", "why", why)
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

// SlackHooksHost is the host of Slack's response_urls.
const SlackHooksHost = "hooks.slack.com"

// checkResponseURL says why the gateway will not post to u, or "": it posts only to Slack's own
// host over https, or to the host of the configured Slack API URL (a test server).
func (s *Server) checkResponseURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "not a URL"
	}
	if p.Scheme == "https" && p.Hostname() == SlackHooksHost && (p.Port() == "" || p.Port() == "443") {
		return ""
	}
	if s.o.APIURL != "" {
		if api, err := url.Parse(s.o.APIURL); err == nil && api.Hostname() != "" &&
			p.Scheme == api.Scheme && p.Hostname() == api.Hostname() {
			return ""
		}
	}
	// The host is no secret; the path is the capability.
	return fmt.Sprintf("%s://%s is not Slack's host (%s)", contract.CleanText(p.Scheme), contract.CleanText(p.Host), SlackHooksHost)
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
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return slack.InteractionCallback{}, fmt.Errorf("malformed form: %w", err)
	}
	payload := form.Get("payload")
	if payload == "" {
		return slack.InteractionCallback{}, errors.New("no payload")
	}
	return interactionPayload([]byte(payload))
}

// interactionPayload decodes an interaction's JSON payload: the payload form field over HTTP,
// the envelope's payload over Socket Mode.
func interactionPayload(payload []byte) (slack.InteractionCallback, error) {
	var cb slack.InteractionCallback
	if err := json.Unmarshal(payload, &cb); err != nil {
		return cb, fmt.Errorf("malformed payload: %w", err)
	}
	if cb.User.ID == "" {
		return cb, errors.New("payload names no user")
	}
	return cb, nil
}
