package provisioning

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/ztedge/ztedge/internal/errprefix"
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
	// stage orders execution: every change of a stage is done before any
	// change of a later stage starts.
	stage int
	// chain groups the changes of a stage that must run one after the
	// other, in plan order; different chains of a stage run concurrently.
	// An empty chain is a chain of its own.
	chain string
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

// execute carries out the changes stage by stage. Within a stage, each
// chain's changes run in plan order and up to [maxParallel] chains run at
// once. The first failure stops the plan (changes already running finish)
// and is returned naming the change that failed.
func (p *Plan) execute(ctx context.Context, progress func(Change)) error {
	var mu sync.Mutex // serializes progress
	report := func(c Change) {
		if progress != nil {
			mu.Lock()
			progress(c)
			mu.Unlock()
		}
	}
	for _, stage := range p.stages() {
		err := forEach(ctx, len(stage), func(ctx context.Context, i int) error {
			for _, c := range stage[i] {
				if err := ctx.Err(); err != nil {
					return err
				}
				if c.apply != nil {
					if err := c.apply(ctx); err != nil {
						return fmt.Errorf("%s %s %q: %w", c.Op, c.Kind, c.Name, err)
					}
				}
				report(c)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// stages groups the changes by stage (ascending), and each stage's changes
// by chain, keeping plan order within a chain.
func (p *Plan) stages() [][][]Change {
	var numbers []int
	for _, c := range p.Changes {
		if !slices.Contains(numbers, c.stage) {
			numbers = append(numbers, c.stage)
		}
	}
	slices.Sort(numbers)
	out := make([][][]Change, 0, len(numbers))
	for _, n := range numbers {
		var chains [][]Change
		index := map[string]int{}
		for _, c := range p.Changes {
			if c.stage != n {
				continue
			}
			i, ok := index[c.chain]
			if !ok || c.chain == "" {
				i = len(chains)
				chains = append(chains, nil)
				if c.chain != "" {
					index[c.chain] = i
				}
			}
			chains[i] = append(chains[i], c)
		}
		out = append(out, chains)
	}
	return out
}

// sequence joins the changes of parts so that every stage of a part runs
// after every stage of the parts before it.
func sequence(parts ...[]Change) []Change {
	var out []Change
	base := 0
	for _, part := range parts {
		var numbers []int
		for _, c := range part {
			if !slices.Contains(numbers, c.stage) {
				numbers = append(numbers, c.stage)
			}
		}
		slices.Sort(numbers)
		for _, c := range part {
			c.stage = base + slices.Index(numbers, c.stage)
			out = append(out, c)
		}
		base += len(numbers)
	}
	return out
}

// errPrefix starts the errors of the package's exported functions.
const errPrefix = "provisioning: "

// prefixErr puts errPrefix before *err unless it is there already.
func prefixErr(err *error) { errprefix.Set(errPrefix, err) }

// inTopology is err about the topology file path: "provisioning: topology
// <path>: " and err's text without its own errPrefix, so that an error of
// an exported function (a [*ValidationError]) gets no second one.
func inTopology(path string, err error) error {
	return &contextError{context: "topology " + path, err: err}
}

// contextError is err with context after errPrefix; it unwraps to err.
type contextError struct {
	context string
	err     error
}

func (e *contextError) Error() string {
	return errPrefix + e.context + ": " + strings.TrimPrefix(e.err.Error(), errPrefix)
}

func (e *contextError) Unwrap() error { return e.err }
