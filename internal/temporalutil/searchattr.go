package temporalutil

import (
	"context"
	"fmt"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/authops/authops/contract"
)

// EnsureSearchAttributes registers the search attributes the runbooks use that the namespace
// lacks. The dev server registers its --search-attribute flags only when it creates its
// database, so a database from an older version of the stack misses the newer ones.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes: %w", err)
	}
	want := map[string]enumspb.IndexedValueType{}
	for k := range contract.SearchAttributes().GetUntypedValues() {
		if _, ok := have.GetCustomAttributes()[k.GetName()]; !ok {
			want[k.GetName()] = k.GetValueType()
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: want}); err != nil {
		return nil, fmt.Errorf("add search attributes: %w", err)
	}
	var added []string
	for k := range want {
		added = append(added, k)
	}
	slices.Sort(added)
	return added, nil
}
