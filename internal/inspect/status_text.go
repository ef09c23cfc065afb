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
	case v.Sealed:
		fmt.Fprintf(tw, "Vault\t%s\tSEALED\n", v.Address)
	case !v.Reachable:
		fmt.Fprintf(tw, "Vault\t%s\tNOT READABLE\n", v.Address)
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
		switch {
		case v.Issuer == "":
			match = "issuer and key set not checked (Vault's cannot be read)"
		case !s.MatchesVault:
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
		sessions := false // legacy API sessions, the only ones with a last activity
		for _, svc := range st.Services {
			sessions = sessions || svc.Identity.LastActivity != nil
		}
		for _, c := range st.Clients {
			sessions = sessions || c.LastActivity != nil
		}
		header := "  SERVICE\tBOUND ON\tIDENTITY\n"
		if sessions {
			header = "  SERVICE\tBOUND ON\tIDENTITY\tLAST ACTIVITY\n"
		}
		fmt.Fprint(tw, header)
		for _, svc := range st.Services {
			fmt.Fprintf(tw, "  %s\t%s\t%s%s\n", svc.Name, st.placement(svc.Present, svc.Routers, "NOT BOUND"), identityState(svc.Identity), activity(sessions, svc.Identity, st.Time))
		}
		tw.Flush()
		if len(st.Clients) > 0 {
			b.WriteString("\nClients\n")
			tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
			for _, c := range st.Clients {
				fmt.Fprintf(tw, "  %s\t%s%s\n", c.Name, identityState(c), activity(sessions, c, st.Time))
			}
			tw.Flush()
		}
		if len(st.Dependencies) > 0 {
			b.WriteString("\nDependencies\n")
			tw = tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
			fmt.Fprint(tw, "  DEPENDENCY\tHOSTED ON\tROUTER IN TOPOLOGY\n")
			for _, d := range st.Dependencies {
				fmt.Fprintf(tw, "  %s\t%s\t%s\n", d.Name, st.placement(d.Present, d.Routers, "NOT HOSTED"), d.Router)
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

// placement says where a Ziti service is served: the routers hosting it,
// none when it is provisioned but nobody serves it, or NOT PROVISIONED.
func (st *Status) placement(present bool, routers []string, none string) string {
	switch {
	case !present:
		return "NOT PROVISIONED"
	case len(routers) > 0:
		return st.routerList(routers)
	}
	return none
}

// routerList joins router names, marking those that are offline.
func (st *Status) routerList(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n
		for _, r := range st.Routers {
			if r.Name == n && !r.Online {
				out[i] = n + " (OFFLINE)"
			}
		}
	}
	return strings.Join(out, ", ")
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
	case s.RouterConnected:
		return "online"
	case s.Authenticated:
		return "authenticated, on no edge router"
	default:
		return "offline"
	}
}

// activity is the last-activity column, when there is one.
func activity(column bool, s IdentityStatus, now time.Time) string {
	switch {
	case !column:
		return ""
	case s.LastActivity == nil:
		return "\t-"
	}
	return "\t" + now.Sub(*s.LastActivity).Round(time.Second).String() + " ago"
}
