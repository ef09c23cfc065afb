package doctor

import (
	"fmt"
	"io"
	"strings"
)

// WriteTo writes the report for people: one line per step, and for the
// failed step what is wrong and how to fix it.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	if r.Peer != "" {
		fmt.Fprintf(&b, "ztedge doctor: %s -> %s\n", r.Service, r.Peer)
	} else {
		fmt.Fprintf(&b, "ztedge doctor: %s\n", r.Service)
	}
	width := 0
	for _, res := range r.Results {
		width = max(width, len(res.Step))
	}
	for _, res := range r.Results {
		mark := map[Status]string{OK: "ok  ", Failed: "FAIL", Skipped: "skip"}[res.Status]
		fmt.Fprintf(&b, "  %s  %-*s  %s\n", mark, width, res.Step, res.Title)
		indent := strings.Repeat(" ", 10+width)
		if res.Detail != "" {
			fmt.Fprintf(&b, "%s%s\n", indent, res.Detail)
		}
		if res.Fix != "" {
			fmt.Fprintf(&b, "%sfix: %s\n", indent, res.Fix)
		}
	}
	if f := r.Failure(); f != nil {
		fmt.Fprintf(&b, "Broken link: %s.", f.Step)
		switch {
		case r.NotRun == 1:
			b.WriteString(" 1 later check not run.")
		case r.NotRun > 1:
			fmt.Fprintf(&b, " %d later checks not run.", r.NotRun)
		}
		b.WriteString("\n")
	} else {
		skipped := 0
		for _, res := range r.Results {
			if res.Status == Skipped {
				skipped++
			}
		}
		if skipped > 0 {
			fmt.Fprintf(&b, "No broken link found; %d checks skipped.\n", skipped)
		} else {
			b.WriteString("Every link holds.\n")
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
