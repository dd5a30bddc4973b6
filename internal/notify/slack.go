package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/authops/authops/contract"
	"github.com/authops/authops/internal/slackui"
)

// Environment of the worker's Slack notifier. The token is read from the environment only, never
// from the config file, and it never enters a workflow.
const (
	EnvSlackBotToken = "SLACK_BOT_TOKEN"
	EnvSlackAPIURL   = "SLACK_API_URL"
)

// Escape makes text from people safe in a Slack mrkdwn message: control characters are shown
// as escapes (contract.CleanText), and &, < and > become entities, so that a reason cannot
// forge a mention (<@U…>), a broadcast (<!channel>) or a link.
func Escape(s string) string {
	return mrkdwn.Replace(contract.CleanText(s))
}

var mrkdwn = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{1,31}$`)

// Mention is the mrkdwn mention of a Slack user id, or "" for anything that is not one.
func Mention(slackID string) string {
	if !slackUserID.MatchString(slackID) {
		return ""
	}
	return "<@" + slackID + ">"
}

// Slack posts and updates messages through the Slack Web API.
type Slack struct {
	api *slack.Client
	mu  sync.Mutex
	ids map[string]string // channel name (#ops) -> id
}

// NewSlack returns a client with the bot token; apiURL ("" for Slack's) points it at a test
// server or a proxy.
func NewSlack(token, apiURL string, hc *http.Client) *Slack {
	opts := []slack.Option{}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	if hc != nil {
		opts = append(opts, slack.OptionHTTPClient(hc))
	}
	return &Slack{api: slack.New(token, opts...), ids: map[string]string{}}
}

// SlackFromEnv returns the notifier's Slack client, or nil when SLACK_BOT_TOKEN is not set.
func SlackFromEnv(hc *http.Client) *Slack {
	token := os.Getenv(EnvSlackBotToken)
	if token == "" {
		return nil
	}
	return NewSlack(token, os.Getenv(EnvSlackAPIURL), hc)
}

// Post is one message to post.
type Post struct {
	// Channel is an id (C…, G…, D…) or a name (#ops).
	Channel string
	// ThreadTS makes it a reply in that thread; Broadcast also shows the reply in the channel.
	ThreadTS  string
	Broadcast bool
	// Text is mrkdwn (escaped by the caller) and the notification fallback of Blocks.
	Text   string
	Blocks []slack.Block
	// Key marks the message in its metadata, so that a retry finds it instead of posting twice.
	Key string
}

// Post posts p. With retry set (an earlier attempt may have posted it and lost the answer) it
// first looks for a message carrying p.Key in the channel or the thread.
func (s *Slack) Post(ctx context.Context, p Post, retry bool) (contract.Posted, error) {
	if retry {
		id, err := s.ChannelID(ctx, p.Channel)
		if err != nil {
			return contract.Posted{}, err
		}
		if id != "" {
			ts, err := s.Find(ctx, id, p.ThreadTS, p.Key)
			if err != nil {
				return contract.Posted{}, err
			}
			if ts != "" {
				return contract.Posted{ChannelID: id, TS: ts, Found: true}, nil
			}
		}
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(p.Text, false),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: slackui.MetadataEventType,
			EventPayload: map[string]any{"key": p.Key}}),
	}
	if len(p.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(p.Blocks...))
	}
	if p.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(p.ThreadTS))
		if p.Broadcast {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	ch, ts, err := s.api.PostMessageContext(ctx, p.Channel, opts...)
	if err != nil {
		return contract.Posted{}, fmt.Errorf("chat.postMessage to %s: %w", p.Channel, err)
	}
	return contract.Posted{ChannelID: ch, TS: ts}, nil
}

// Update replaces a message's text and blocks (chat.update needs the channel id).
func (s *Slack) Update(ctx context.Context, channelID, ts, text string, blocks []slack.Block) error {
	// An empty block list would leave the old buttons in place: Slack keeps blocks not replaced.
	if len(blocks) == 0 {
		blocks = []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)}
	}
	_, _, _, err := s.api.UpdateMessageContext(ctx, channelID, ts,
		slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...))
	if err != nil {
		return fmt.Errorf("chat.update %s in %s: %w", ts, channelID, err)
	}
	return nil
}

// Find returns the ts of the message carrying key among the channel's latest messages (or the
// thread's replies), "" when there is none.
func (s *Slack) Find(ctx context.Context, channelID, threadTS, key string) (string, error) {
	var msgs []slack.Message
	if threadTS != "" {
		m, _, _, err := s.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channelID, Timestamp: threadTS, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			return "", fmt.Errorf("conversations.replies %s: %w", channelID, err)
		}
		msgs = m
	} else {
		h, err := s.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: channelID, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			return "", fmt.Errorf("conversations.history %s: %w", channelID, err)
		}
		msgs = h.Messages
	}
	for _, m := range msgs {
		if m.Metadata.EventType == slackui.MetadataEventType && m.Metadata.EventPayload["key"] == key {
			return m.Timestamp, nil
		}
	}
	return "", nil
}

var channelIDPattern = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// ChannelID resolves a channel name to its id (conversations.list, remembered); an id is
// returned as is. "" means the name is not visible to the bot: a retry then cannot look for
// its earlier post, and posts again.
func (s *Slack) ChannelID(ctx context.Context, channel string) (string, error) {
	if channelIDPattern.MatchString(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	s.mu.Lock()
	id, ok := s.ids[name]
	s.mu.Unlock()
	if ok {
		return id, nil
	}
	cursor := ""
	for range 50 {
		chs, next, err := s.api.GetConversationsContext(ctx, &slack.GetConversationsParameters{
			Cursor: cursor, ExcludeArchived: true, Limit: 200, Types: []string{"public_channel", "private_channel"}})
		if err != nil {
			var se slack.SlackErrorResponse
			if errors.As(err, &se) && se.Err == "missing_scope" {
				return "", nil
			}
			return "", fmt.Errorf("conversations.list: %w", err)
		}
		for _, c := range chs {
			if c.Name == name {
				s.mu.Lock()
				s.ids[name] = c.ID
				s.mu.Unlock()
				return c.ID, nil
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return "", nil
}

// OpenDM returns the id of the direct message channel with a user.
func (s *Slack) OpenDM(ctx context.Context, userID string) (string, error) {
	ch, _, _, err := s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{userID}})
	if err != nil {
		return "", fmt.Errorf("conversations.open with %s: %w", userID, err)
	}
	return ch.ID, nil
}

// Permanent says an error will not go away by retrying: the message is dropped (and logged)
// rather than blocking the channel's other notifications.
func Permanent(err error) bool {
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) {
		return false
	}
	switch se.Err {
	case "channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
		"token_revoked", "missing_scope", "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text",
		"message_not_found", "cant_update_message", "edit_window_closed", "user_not_found", "invalid_metadata_format":
		return true
	}
	return false
}
