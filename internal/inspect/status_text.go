package inspect

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTo writes the status for people, as "ztedge status" prints it.
func (st *Status) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	ctrl := "admin login ok"
	if !st.Controller.Reachable {
		ctrl = "NOT READABLE"
	}
	fmt.Fprintf(tw, "Controller\t%s\t%s\n", st.Controller.URL, ctrl)
	v := st.Vault
	switch {
	case !v.Reachable:
		fmt.Fprintf(tw, "Vault\t%s\tNOT READABLE\n", v.Address)
	case v.Sealed:
		fmt.Fprintf(tw, "Vault\t%s\tSEALED\n", v.Address)
	default:
		fmt.Fprintf(tw, "Vault\t%s\tunsealed, version %s\n", v.Address, v.Version)
	}
	if k := v.Key; k.Present {
		fmt.Fprintf(tw, "JWT key\t%s\t%s, rotates every %s, %d public keys published\n", k.Name, k.Algorithm,
			time.Duration(k.RotationPeriodSeconds)*time.Second, k.PublishedKeys)
	} else if v.Reachable {
		fmt.Fprintf(tw, "JWT key\t%s\tMISSING\n", k.Name)
	}
	s := st.Signer
	switch {
	case !st.Controller.Reachable:
	case !s.Present:
		fmt.Fprintf(tw, "JWT signer\t%s\tMISSING\n", s.Name)
	default:
		state := "enabled"
		if !s.Enabled {
			state = "DISABLED"
		}
		match := "issuer and key set are Vault's"
		if !s.MatchesVault {
			match = "issuer or key set DIFFER from Vault's"
		}
		fmt.Fprintf(tw, "JWT signer\t%s\t%s, audience %q, %s\n", s.Name, state, s.Audience, match)
	}
	tw.Flush()
	if st.Controller.Reachable {
		b.WriteString("\nEdge routers\n")
		tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		for _, r := range st.Routers {
			fmt.Fprintf(tw, "  %s\t%s\n", r.Name, onOff(r.Online, "online", "OFFLINE"))
		}
		tw.Flush()
		b.WriteString("\nServices\n")
		tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "  SERVICE\tBOUND ON\tIDENTITY\tLAST ACTIVITY\n")
		for _, svc := range st.Services {
			bound := "NOT BOUND"
			switch {
			case !svc.Present:
				bound = "NOT PROVISIONED"
			case len(svc.Routers) > 0:
				bound = strings.Join(svc.Routers, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", svc.Name, bound, identityState(svc.Identity), activity(svc.Identity, st.Time))
		}
		tw.Flush()
		if len(st.Clients) > 0 {
			b.WriteString("\nClients\n")
			tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
			for _, c := range st.Clients {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Name, identityState(c), activity(c, st.Time))
			}
			tw.Flush()
		}
	}
	if len(st.Problems) == 0 {
		b.WriteString("\nNo problems.\n")
	} else {
		b.WriteString("\nProblems\n")
		for _, p := range st.Problems {
			b.WriteString("  - " + p + "\n")
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func onOff(on bool, yes, no string) string {
	if on {
		return yes
	}
	return no
}

// identityState says whether an identity is authenticated and connected.
func identityState(s IdentityStatus) string {
	switch {
	case !s.Present:
		return "MISSING"
	case s.Authenticated && s.RouterConnected:
		return "authenticated, on a router"
	case s.Authenticated:
		return "authenticated"
	default:
		return "not authenticated"
	}
}

func activity(s IdentityStatus, now time.Time) string {
	if s.LastActivity == nil {
		return "-"
	}
	return now.Sub(*s.LastActivity).Round(time.Second).String() + " ago"
}
