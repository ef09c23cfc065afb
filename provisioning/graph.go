package provisioning

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Graph is a topology as a picture: its services and clients (grouped by
// their groups and, when known, by the router each service is bound on),
// its dependencies (on the router whose tunneler hosts them), one edge
// for every identity a dial rule allows to dial a service, and one for
// every dialer of a dependency, with groups expanded. Its edges to
// services are exactly [Topology.Dialers]. Build it with
// [Topology.Graph]; write it with [Graph.WriteDOT] or
// [Graph.WriteMermaid].
type Graph struct {
	// Nodes are the services, then the clients, then the dependencies, in
	// file order.
	Nodes []GraphNode
	// Edges are sorted by From, then To.
	Edges []GraphEdge

	// placed is true once Place has put the services on their routers.
	placed bool
}

// GraphNode is a service, a client or a dependency.
type GraphNode struct {
	// Name is the service's, client's or dependency's name.
	Name string
	// Client is true for a client (a tunneler or admin identity).
	Client bool
	// Dependency is true for a dependency: a TCP server that is not
	// Ziti-aware, hosted by a router's tunneler.
	Dependency bool
	// Groups are the node's groups, as in the file (none for a
	// dependency).
	Groups []string
	// Router is the edge router the service is bound on, "" when unknown;
	// for a dependency, the router whose tunneler hosts it.
	Router string
}

// GraphEdge says that From may dial the service or dependency To.
type GraphEdge struct {
	From, To string
	// Rules are the indices of the dial rules that allow it (see
	// [Topology.DescribeRule]); none for an edge to a dependency, which
	// its own dialers allow.
	Rules []int
}

// Graph returns the picture of a validated topology.
func (t *Topology) Graph() *Graph {
	g := &Graph{}
	for _, s := range t.Services {
		g.Nodes = append(g.Nodes, GraphNode{Name: s.Name, Groups: s.Groups})
	}
	for _, c := range t.Clients {
		g.Nodes = append(g.Nodes, GraphNode{Name: c.Name, Client: true, Groups: c.Groups})
	}
	for _, d := range t.Dependencies {
		g.Nodes = append(g.Nodes, GraphNode{Name: d.Name, Dependency: true, Router: d.Router})
	}
	index := map[[2]string]int{}
	t.eachPermission(func(rule int, from, to string) {
		k := [2]string{from, to}
		i, ok := index[k]
		if !ok {
			i = len(g.Edges)
			index[k] = i
			g.Edges = append(g.Edges, GraphEdge{From: from, To: to})
		}
		if !slices.Contains(g.Edges[i].Rules, rule) {
			g.Edges[i].Rules = append(g.Edges[i].Rules, rule)
		}
	})
	t.eachDependencyDialer(func(dep, from string) {
		k := [2]string{from, dep}
		if _, ok := index[k]; !ok {
			index[k] = len(g.Edges)
			g.Edges = append(g.Edges, GraphEdge{From: from, To: dep})
		}
	})
	slices.SortFunc(g.Edges, func(a, b GraphEdge) int {
		if c := strings.Compare(a.From, b.From); c != 0 {
			return c
		}
		return strings.Compare(a.To, b.To)
	})
	return g
}

// Place records the router each service is bound on (service name ->
// router name), so that the picture groups services by router as well.
// Services absent from routers keep no router; clients and dependencies
// keep theirs.
func (g *Graph) Place(routers map[string]string) {
	g.placed = true
	for i := range g.Nodes {
		if r, ok := routers[g.Nodes[i].Name]; ok && !g.Nodes[i].Client && !g.Nodes[i].Dependency {
			g.Nodes[i].Router = r
		}
	}
}

// cluster is one box of the picture: the nodes on one router (or on none)
// with one set of groups.
type cluster struct {
	router string
	groups []string
	nodes  []GraphNode
}

// clusters splits the nodes by router and then by their set of groups, in
// the order they first appear. A node in several groups sits in the box
// of exactly that set ("group:apps + group:core"), so every box says the
// whole truth about its members.
func (g *Graph) clusters() []*cluster {
	var out []*cluster
	find := func(router string, groups []string) *cluster {
		for _, c := range out {
			if c.router == router && slices.Equal(c.groups, groups) {
				return c
			}
		}
		c := &cluster{router: router, groups: groups}
		out = append(out, c)
		return c
	}
	for _, n := range g.Nodes {
		groups := slices.Clone(n.Groups)
		slices.Sort(groups)
		c := find(g.boxRouter(n), groups)
		c.nodes = append(c.nodes, n)
	}
	return out
}

// boxRouter is the router box a node is drawn in, "" for none. A
// dependency's router is known from the file, but it gets a box only
// once the services are placed too: a box holding the dependency alone
// would read as if no service were on that router.
func (g *Graph) boxRouter(n GraphNode) string {
	if n.Dependency && !g.placed {
		return ""
	}
	return n.Router
}

// label is the text of a node: its name, and for a dependency outside a
// router box the router that hosts it.
func (g *Graph) label(n GraphNode) string {
	if n.Dependency && g.boxRouter(n) == "" && n.Router != "" {
		return n.Name + " (router " + n.Router + ")"
	}
	return n.Name
}

// routers lists the routers nodes are placed on, in order of appearance,
// "" (no router) included when some node has none.
func routersOf(cs []*cluster) []string {
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.router) {
			out = append(out, c.router)
		}
	}
	return out
}

func groupLabel(groups []string) string {
	labels := make([]string, len(groups))
	for i, g := range groups {
		labels[i] = GroupPrefix + g
	}
	return strings.Join(labels, " + ")
}

func ruleList(rules []int) string {
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = fmt.Sprintf("dial[%d]", r)
	}
	return strings.Join(parts, ", ")
}

// dotQuote quotes s as a Graphviz ID.
func dotQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// painter draws the parts of a picture in one language.
type painter interface {
	// open starts box number id with a label; router boxes hold group boxes.
	open(indent string, id int, label string, router bool)
	node(indent string, n GraphNode, label string)
	close(indent string)
}

// paint draws the boxes and nodes of g in order: one box per router (when
// services are placed), and inside it one per set of groups.
func (g *Graph) paint(p painter) {
	cs := g.clusters()
	id := 0
	groups := func(indent, router string) {
		for _, c := range cs {
			if c.router != router {
				continue
			}
			inner := indent
			if len(c.groups) > 0 {
				id++
				p.open(indent, id, groupLabel(c.groups), false)
				inner += "  "
			}
			for _, n := range c.nodes {
				p.node(inner, n, g.label(n))
			}
			if len(c.groups) > 0 {
				p.close(indent)
			}
		}
	}
	for _, r := range routersOf(cs) {
		if r == "" {
			groups("  ", "")
			continue
		}
		id++
		p.open("  ", id, "router "+r, true)
		groups("    ", r)
		p.close("  ")
	}
}

type dotPainter struct{ b *strings.Builder }

func (d dotPainter) open(indent string, id int, label string, router bool) {
	style := `style=dashed; color="#888888"`
	if router {
		style = `style=solid; color="#333333"`
	}
	fmt.Fprintf(d.b, "%ssubgraph cluster_%d {\n%s  label=%s; %s;\n", indent, id, indent, dotQuote(label), style)
}

func (d dotPainter) node(indent string, n GraphNode, label string) {
	shape := "box, style=rounded"
	switch {
	case n.Client:
		shape = "ellipse"
	case n.Dependency:
		shape = "cylinder"
	}
	if label != n.Name {
		shape += ", label=" + dotQuote(label)
	}
	fmt.Fprintf(d.b, "%s%s [shape=%s];\n", indent, dotQuote(n.Name), shape)
}

func (d dotPainter) close(indent string) { fmt.Fprintf(d.b, "%s}\n", indent) }

// WriteDOT writes the picture in Graphviz's DOT language: services as
// boxes, clients as ellipses, dependencies as cylinders, one cluster per set of groups (inside one
// per router when services are placed), one arrow per permitted dial with
// the rules that allow it as its tooltip. Render it with
// "dot -Tsvg graph.dot > graph.svg".
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph ztedge {\n")
	b.WriteString("  rankdir=LR;\n")
	b.WriteString("  node [fontname=\"Helvetica\", fontsize=11];\n")
	b.WriteString("  edge [color=\"#555555\", arrowsize=0.7];\n")
	g.paint(dotPainter{&b})
	for _, e := range g.Edges {
		tip := ruleList(e.Rules)
		if len(e.Rules) == 0 {
			tip = "dependency dialer"
		}
		fmt.Fprintf(&b, "  %s -> %s [tooltip=%s];\n", dotQuote(e.From), dotQuote(e.To), dotQuote(tip))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidID turns a name (lower-case letters, digits, hyphens) into a
// Mermaid node ID that no keyword can clash with.
func mermaidID(name string) string { return "n_" + strings.ReplaceAll(name, "-", "_") }

// mermaidText makes s safe inside a quoted Mermaid label.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", " ").Replace(s)
}

type mermaidPainter struct{ b *strings.Builder }

func (m mermaidPainter) open(indent string, id int, label string, _ bool) {
	fmt.Fprintf(m.b, "%ssubgraph g%d[\"%s\"]\n", indent, id, mermaidText(label))
}

func (m mermaidPainter) node(indent string, n GraphNode, label string) {
	open, close := "[", "]"
	switch {
	case n.Client:
		open, close = "([", "])"
	case n.Dependency:
		open, close = "[(", ")]"
	}
	fmt.Fprintf(m.b, "%s%s%s\"%s\"%s\n", indent, mermaidID(n.Name), open, mermaidText(label), close)
}

func (m mermaidPainter) close(indent string) { fmt.Fprintf(m.b, "%send\n", indent) }

// WriteMermaid writes the picture as a Mermaid flowchart, for Markdown
// documents: services as rectangles, clients as stadiums, dependencies as
// cylinders, one subgraph per
// set of groups (inside one per router when services are placed), one
// arrow per permitted dial.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	g.paint(mermaidPainter{&b})
	for _, e := range g.Edges {
		fmt.Fprintf(&b, "  %s --> %s\n", mermaidID(e.From), mermaidID(e.To))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
