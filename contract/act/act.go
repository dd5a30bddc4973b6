// Package act names the activities, so that workflows schedule them by name without linking the
// activities package and the adapters behind it. Each name is the method name of the activity
// on its worker type, and is the activity type in every run's history: never rename one.
//
// worker/register's tests check that every name here is a registered activity and that every
// registered activity has a name here.
package act

// Policies: what config says of a target and of incidents.
const (
	LoadPolicy         = "LoadPolicy"
	LoadIncidentPolicy = "LoadIncidentPolicy"
)

// Secrets: the secret store, the env sink and the deploy path.
const (
	PreCheck            = "PreCheck"
	AdoptLiveSecret     = "AdoptLiveSecret"
	CreatePendingSecret = "CreatePendingSecret"
	ApplySecret         = "ApplySecret"
	CheckDeployPath     = "CheckDeployPath"
	Deploy              = "Deploy"
	PromoteSecret       = "PromoteSecret"
	MarkSecretFailed    = "MarkSecretFailed"
	RollBackSecret      = "RollBackSecret"
	SupersedePending    = "SupersedePending"
	SettleSecret        = "SettleSecret"
	StoreStatus         = "StoreStatus"
)

// Probes: validations against the live backend and its control API.
const (
	Validate        = "Validate"
	ValidateCutover = "ValidateCutover"
	VerifyCutover   = "VerifyCutover"
	PrepareCanary   = "PrepareCanary"
	CleanupCanary   = "CleanupCanary"
	RevokeSessions  = "RevokeSessions"
	RestrictRoutes  = "RestrictRoutes"
	LiftRoutes      = "LiftRoutes"
)

// Incidents: runbook 1's snapshots, checks, measures, verification, report and freezes.
const (
	SnapshotTarget  = "SnapshotTarget"
	ConfirmAuth     = "ConfirmAuth"
	ApplyMeasure    = "ApplyMeasure"
	UndoMeasure     = "UndoMeasure"
	VerifyIncident  = "VerifyIncident"
	WriteReport     = "WriteReport"
	ArchiveTimeline = "ArchiveTimeline"
	FrozenBy        = "FrozenBy"
)

// Notifications: announcements, Slack posts, user notices and incident channels.
const (
	Announce                = "Announce"
	SlackParent             = "SlackParent"
	SlackReply              = "SlackReply"
	SlackDirect             = "SlackDirect"
	UserNotice              = "UserNotice"
	OpenIncidentChannel     = "OpenIncidentChannel"
	InviteToIncidentChannel = "InviteToIncidentChannel"
)

// Peers: messages between runs, and what the server says of a run. SealMessage and OpenMessage
// run as local activities only.
const (
	SealMessage = "SealMessage"
	OpenMessage = "OpenMessage"
	Sender      = "Sender"
	DescribeRun = "DescribeRun"
	AwaitRun    = "AwaitRun"
)
