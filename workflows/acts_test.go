package workflows

import "github.com/authops/authops/activities"

// acts names the activities the tests mock, by method value (env.OnActivity(acts.Deploy, …)):
// a method value resolves to its method's name, which is what the workflows schedule
// (contract/act). Test dependencies are not the workflows' own, so linking activities here is
// fine.
var acts struct {
	*activities.Policies
	*activities.Secrets
	*activities.Probes
	*activities.Incidents
	*activities.Notifications
	*activities.Peer
}
