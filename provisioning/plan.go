package provisioning

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Op says what a [Change] does to an object.
type Op string

// The operations a plan is made of.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one step of a [Plan]: an operation on one named object.
type Change struct {
	// Op is create, update or delete.
	Op Op
	// Kind names the kind of object, e.g. "vault policy" or "ziti identity".
	Kind string
	// Name is the object's name.
	Name string
	// Detail says why an update is needed (which fields differ); may be empty.
	Detail string

	apply func(ctx context.Context) error
}

// String formats the change as one line, e.g. "create ziti identity core-data".
func (c Change) String() string {
	s := fmt.Sprintf("%-6s %s %s", c.Op, c.Kind, c.Name)
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

// Plan is the ordered list of changes that bring Vault and the controller
// to the state a topology describes.
type Plan struct {
	Changes []Change
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// Count returns how many changes of the given operation the plan holds.
func (p *Plan) Count(op Op) int {
	n := 0
	for _, c := range p.Changes {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Summary is a one-line count such as "3 to create, 1 to update, 0 to delete".
func (p *Plan) Summary() string {
	return fmt.Sprintf("%d to create, %d to update, %d to delete",
		p.Count(OpCreate), p.Count(OpUpdate), p.Count(OpDelete))
}

// WriteTo writes the plan, one change a line, followed by its summary.
func (p *Plan) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if p.Empty() {
		b.WriteString("No changes: Vault and the controller match the topology.\n")
	} else {
		for _, c := range p.Changes {
			b.WriteString("  " + c.String() + "\n")
		}
		b.WriteString("Plan: " + p.Summary() + ".\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// execute applies the changes in order and stops at the first failure,
// naming the change that failed.
func (p *Plan) execute(ctx context.Context, progress func(Change)) error {
	for _, c := range p.Changes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if c.apply != nil {
			if err := c.apply(ctx); err != nil {
				return fmt.Errorf("%s %s %q: %w", c.Op, c.Kind, c.Name, err)
			}
		}
		if progress != nil {
			progress(c)
		}
	}
	return nil
}
