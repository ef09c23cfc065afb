package provisioning

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/topology-graph.md from examples/topology.yaml")

const exampleTopologyFile = "../examples/topology.yaml"

// expandedPolicy is every "dialer -> service" pair of Dialers, sorted.
func expandedPolicy(t *Topology) []string {
	var out []string
	for svc, dialers := range t.Dialers() {
		for _, d := range dialers {
			out = append(out, d+" -> "+svc)
		}
	}
	sort.Strings(out)
	return out
}

var (
	dotEdge     = regexp.MustCompile(`(?m)^\s*"([^"]+)" -> "([^"]+)"`)
	mermaidEdge = regexp.MustCompile(`(?m)^\s*n_(\S+) --> n_(\S+)$`)
)

// edgesOf reads the arrows back out of a rendered picture.
func edgesOf(re *regexp.Regexp, text string, unID func(string) string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, unID(m[1])+" -> "+unID(m[2]))
	}
	sort.Strings(out)
	return out
}

func same(s string) string      { return s }
func unMermaid(s string) string { return strings.ReplaceAll(s, "_", "-") }

func TestGraphEdgesAreTheExpandedPolicy(t *testing.T) {
	for _, file := range []string{exampleTopologyFile} {
		top, err := LoadDeclarations(file)
		require.NoError(t, err)
		want := expandedPolicy(top)
		require.NotEmpty(t, want)
		g := top.Graph()
		var dot, mer bytes.Buffer
		require.NoError(t, g.WriteDOT(&dot))
		require.NoError(t, g.WriteMermaid(&mer))
		assert.Equal(t, want, edgesOf(dotEdge, dot.String(), same), "DOT arrows")
		assert.Equal(t, want, edgesOf(mermaidEdge, mer.String(), unMermaid), "Mermaid arrows")
	}
	top := parseValid(t)
	var dot bytes.Buffer
	require.NoError(t, top.Graph().WriteDOT(&dot))
	assert.Equal(t, expandedPolicy(top), edgesOf(dotEdge, dot.String(), same))
}

func TestGraphNodesGroupsAndRules(t *testing.T) {
	top := parseValid(t)
	g := top.Graph()
	require.Len(t, g.Nodes, 4)
	assert.Equal(t, GraphNode{Name: "operator", Client: true, Groups: []string{"admins"}}, g.Nodes[3])
	// device-virtual -> core-data comes from dial[0] only; operator ->
	// core-data from dial[2] (group:admins to group:core).
	rules := map[string][]int{}
	for _, e := range g.Edges {
		rules[e.From+" -> "+e.To] = e.Rules
	}
	assert.Equal(t, []int{0}, rules["device-virtual -> core-data"])
	assert.Equal(t, []int{2}, rules["operator -> core-data"])
	assert.Equal(t, []int{0}, top.PermittingRules("device-virtual", "core-metadata"))
	assert.Empty(t, top.PermittingRules("core-metadata", "core-data"))
	assert.Equal(t, "dial[2] (from [group:admins] to [group:core])", top.DescribeRule(2))

	var dot, mer bytes.Buffer
	require.NoError(t, g.WriteDOT(&dot))
	require.NoError(t, g.WriteMermaid(&mer))
	assert.Contains(t, dot.String(), `label="group:core"`)
	assert.Contains(t, dot.String(), `"operator" [shape=ellipse];`)
	assert.Contains(t, dot.String(), `"device-virtual" -> "core-data" [tooltip="dial[0]"];`)
	assert.Contains(t, mer.String(), `subgraph g1["group:core"]`)
	assert.Contains(t, mer.String(), `n_operator(["operator"])`)
}

func TestGraphGroupsByRouterOncePlaced(t *testing.T) {
	top := parseValid(t)
	top.Services[2].Groups = append(top.Services[2].Groups, "core") // device-virtual in two groups
	g := top.Graph()
	g.Place(map[string]string{"core-data": "node-a", "core-metadata": "node-b", "operator": "ignored"})
	var dot, mer bytes.Buffer
	require.NoError(t, g.WriteDOT(&dot))
	require.NoError(t, g.WriteMermaid(&mer))
	d := dot.String()
	assert.Contains(t, d, `label="router node-a"`)
	assert.Contains(t, d, `label="router node-b"`)
	assert.Contains(t, d, `label="group:core + group:devices"`, "a node in two groups sits in the box of both")
	assert.Equal(t, 6, strings.Count(d, "subgraph cluster_"), "two routers with a core box each, then core+devices and admins unplaced")
	assert.Contains(t, mer.String(), `subgraph g1["router node-a"]`)
	assert.Equal(t, strings.Count(mer.String(), "subgraph "), strings.Count(mer.String(), "\n  end\n")+strings.Count(mer.String(), "\n    end\n"))
	assert.Equal(t, "", g.Nodes[3].Router, "clients are never placed on a router")
}

func TestGraphQuotesNames(t *testing.T) {
	g := &Graph{Nodes: []GraphNode{{Name: "a", Router: `r"1` + "\n"}}}
	var dot, mer bytes.Buffer
	require.NoError(t, g.WriteDOT(&dot))
	require.NoError(t, g.WriteMermaid(&mer))
	assert.Contains(t, dot.String(), `label="router r\"1\n"`)
	assert.Contains(t, mer.String(), `["router r#quot;1 "]`)
}

func TestLoadDeclarationsNeedsNoEnvironment(t *testing.T) {
	for _, v := range []string{"ZTEDGE_VAULT_ADDR", "ZTEDGE_OUTPUT", "ZTEDGE_ZITI_CONTROLLER"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	_, err := LoadFile(exampleTopologyFile)
	require.Error(t, err, "the full loader still needs the settings")
	top, err := LoadDeclarations(exampleTopologyFile)
	require.NoError(t, err)
	assert.Len(t, top.Services, 5)

	bad := strings.Replace(validYAML, "to: [core-metadata]", "to: [core-metdata]", 1)
	file := t.TempDir() + "/t.yaml"
	require.NoError(t, os.WriteFile(file, []byte(bad), 0o600))
	_, err = LoadDeclarations(file)
	require.ErrorContains(t, err, `dial[1].to[0]: unknown service "core-metdata"`)
}

// TestGraphDoc keeps docs/topology-graph.md equal to the picture of the
// example topology; run with -update-docs after changing either.
func TestGraphDoc(t *testing.T) {
	top, err := LoadDeclarations(exampleTopologyFile)
	require.NoError(t, err)
	g := top.Graph()
	var mer, dot bytes.Buffer
	require.NoError(t, g.WriteMermaid(&mer))
	require.NoError(t, g.WriteDOT(&dot))
	var rules strings.Builder
	for i := range top.Dial {
		rules.WriteString("- `" + top.DescribeRule(i) + "`\n")
	}
	doc := strings.NewReplacer("{{MERMAID}}", mer.String(), "{{DOT}}", dot.String(), "{{RULES}}", rules.String(),
		"{{EDGES}}", strconv.Itoa(len(g.Edges))).Replace(graphDocTemplate)
	const file = "../docs/topology-graph.md"
	if *updateDocs {
		require.NoError(t, os.WriteFile(file, []byte(doc), 0o644))
	}
	have, err := os.ReadFile(file)
	require.NoError(t, err, "run: go test ./provisioning -run TestGraphDoc -update-docs")
	assert.Equal(t, doc, string(have), "docs/topology-graph.md is stale: go test ./provisioning -run TestGraphDoc -update-docs")
}

const graphDocTemplate = "# The example topology as a picture\n\n" +
	"`ztedge provision graph -f examples/topology.yaml` draws who may dial whom in\n" +
	"[`examples/topology.yaml`](../examples/topology.yaml): services as rectangles, clients\n" +
	"(tunneler identities) as rounded shapes, one box per set of groups, and one arrow for every\n" +
	"identity a dial rule lets dial a service, groups expanded: {{EDGES}} arrows, exactly the Dial\n" +
	"policies provisioning creates. This page is generated from the file, and a test fails when it\n" +
	"is out of date (`go test ./provisioning -run TestGraphDoc -update-docs` rewrites it).\n\n" +
	"```mermaid\n{{MERMAID}}```\n\n" +
	"The dial rules behind the arrows (`ztedge doctor CALLER CALLEE` names the one that permits a\n" +
	"call):\n\n{{RULES}}\n" +
	"## The same in Graphviz\n\n" +
	"`ztedge provision graph -f examples/topology.yaml -format dot` writes DOT; each arrow's tooltip\n" +
	"names the rules that allow it. `-format svg` renders it with Graphviz's `dot` when it is\n" +
	"installed (`apt-get install graphviz`). With `-routers`, the picture asks the controller where\n" +
	"each service is bound and draws one box per edge router around the groups.\n\n" +
	"```dot\n{{DOT}}```\n"
