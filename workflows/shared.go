// Package workflows holds the runbooks as deterministic Temporal workflows: steps, approvals,
// timers, compensation and the timeline. All I/O happens in activities, which the workflows
// reach through the activities' types and only ever hand version ids and fingerprints.
package workflows

// systemActor is the actor of steps the workflow does on its own.
const systemActor = "authops"
