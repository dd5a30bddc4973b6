package workflows

import (
	"encoding/json"
	"fmt"

	"github.com/authops/authops/contract"
)

// approvalBound says why an approval of the pending action pa is refused, or "". An approval
// names its action, and the statement signs the name: ids are never reused within an incident,
// so it cannot apply to another action. It also carries the digest of the action's content (its
// CIDRs, users, target) as the approver's client read it from the run, which must match; a
// client that could not read it (no worker answered) sends the name alone.
func (i *incident) approvalBound(d contract.Decision, pa *contract.PendingAction) string {
	var ref contract.ActionRef
	if d.Args == "" || json.Unmarshal([]byte(d.Args), &ref) != nil || ref.Action == "" {
		return fmt.Sprintf("an approval names the action it approves and its content: starter approve %s --action %s", i.id, pa.ID)
	}
	if ref.Digest != "" && ref.Digest != pa.Request.Digest() {
		return fmt.Sprintf("%s is not what this approval was signed for (%s): its content differs; read it again (starter status %s) and approve what it asks",
			pa.ID, pa.Request.Describe(), i.id)
	}
	return ""
}
