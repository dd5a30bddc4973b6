package workflows

import (
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/authops/authops/contract"
)

// approvalBound says why an approval of the pending action pa is refused, or "". An approval
// names its action and the digest of the action's content (its CIDRs, users, target) as the
// approver read it from the run, and the statement signs both: it cannot apply to an action
// other than the one the approver saw. Runs from before approval-bound-to-action take the
// action's id alone.
func (i *incident) approvalBound(ctx workflow.Context, d contract.Decision, pa *contract.PendingAction) string {
	if workflow.GetVersion(ctx, "approval-bound-to-action", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return ""
	}
	var ref contract.ActionRef
	if d.Args == "" || json.Unmarshal([]byte(d.Args), &ref) != nil || ref.Action == "" {
		return fmt.Sprintf("an approval names the action it approves and its content: starter approve %s --action %s", i.id, pa.ID)
	}
	if ref.Digest != pa.Request.Digest() {
		return fmt.Sprintf("%s is not what this approval was signed for (%s): its content differs; read it again (starter status %s) and approve what it asks",
			pa.ID, pa.Request.Describe(), i.id)
	}
	return ""
}
