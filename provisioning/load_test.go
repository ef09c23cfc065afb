package provisioning

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/configfile"
)

func TestParseRefusesASecondDocument(t *testing.T) {
	_, err := Parse([]byte(validYAML + "---\nservices: []\n"))
	assert.ErrorContains(t, err, "more than one YAML document")
	_, err = Parse([]byte(validYAML + "---\n"))
	assert.ErrorContains(t, err, "more than one YAML document", "even an empty second document")
}

func TestParseVariablesCannotChangeTheStructure(t *testing.T) {
	// A value that would add a service if it were pasted into the text.
	t.Setenv("ZT_TEST_EVIL", "http://127.0.0.1:8200\nclients:\n  - name: intruder")
	top, err := Parse([]byte(strings.Replace(validYAML, "http://127.0.0.1:8200", "${ZT_TEST_EVIL}", 1)))
	require.NoError(t, err)
	assert.Equal(t, os.Getenv("ZT_TEST_EVIL"), top.Vault.Address, "the whole value is one string")
	assert.Len(t, top.Clients, 1, "no client was added")
	assert.Error(t, top.Validate(), "and the address is refused as an address")

	t.Setenv("ZT_TEST_LIST", "[a, b]")
	_, err = Parse([]byte(strings.Replace(validYAML, "groups: [core]", "groups: ${ZT_TEST_LIST}", 1)))
	assert.Error(t, err, "a variable cannot turn a scalar into a list")

	t.Setenv("ZT_TEST_PORT", "59901")
	top, err = Parse([]byte(strings.Replace(validYAML, "port: 59900", "port: ${ZT_TEST_PORT}", 1)))
	require.NoError(t, err)
	assert.Equal(t, 59901, top.Services[2].Port, "a plain value is typed from what it expands to")

	t.Setenv("ZT_TEST_KEY", "services")
	_, err = Parse([]byte(validYAML + "${ZT_TEST_KEY}: []\n"))
	assert.Error(t, err, "keys are never expanded")
}

// FuzzLoadTopology feeds the loader arbitrary files, with an environment
// variable of arbitrary content referenced in a value: it must never
// panic, a variable must land whole in its one field, and whatever loads
// and validates must hold only valid names.
func FuzzLoadTopology(f *testing.F) {
	f.Add(validYAML, "http://127.0.0.1:8200")
	f.Add("vault:\n  address: ${ZT_FUZZ}\n"+validYAML[strings.Index(validYAML, "ziti:"):], "x\nclients: []")
	f.Add("services:\n  - name: ${ZT_FUZZ}\n", "a: b")
	f.Add("---\n---\n", "")
	f.Add("a: &x [*x]\n", "")
	f.Fuzz(func(t *testing.T, text, value string) {
		if strings.ContainsRune(value, 0) {
			return // no environment variable can hold a NUL
		}
		t.Setenv("ZT_FUZZ", value)
		top, err := Parse([]byte(text))
		if err != nil {
			return
		}
		isNull := slices.Contains([]string{"", "~", "null", "Null", "NULL"}, value)
		if strings.HasPrefix(text, "vault:\n  address: ${ZT_FUZZ}\n") && strings.Count(text, "${ZT_FUZZ}") == 1 && !isNull {
			require.Equal(t, strings.TrimRight(value, "/"), top.Vault.Address, "the variable lands whole in its field")
		}
		if top.Validate() != nil {
			return
		}
		for _, s := range top.Services {
			require.NotContains(t, s.Name, "\n")
			require.NotContains(t, s.Name, "/")
		}
	})
}

// Errors name the line of the file as written, whatever comments, blank
// lines and ${VAR} references come before.
func TestParseErrorsNameTheFileLines(t *testing.T) {
	t.Setenv("ZT_TEST_VAULT", "http://127.0.0.1:8200")
	head := "# A topology.\n\n\n# More comments.\n\n" + strings.Replace(validYAML, "http://127.0.0.1:8200", "${ZT_TEST_VAULT}", 1)
	lineOf := func(text, what string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, what) {
				return i + 1
			}
		}
		require.FailNow(t, "not found", what)
		return 0
	}

	text := head + "\n\n# typo below\nservicez: []\n"
	_, err := Parse([]byte(text))
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf(`provisioning: line %d: unknown field "servicez" in the topology`, lineOf(text, "servicez")), err.Error())

	text = strings.Replace(head, "port: 59900", "port: eighty", 1)
	_, err = Parse([]byte(text))
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf(`provisioning: line %d: services[2].port: "eighty" must be a number`, lineOf(text, "port: eighty")), err.Error())

	text = strings.Replace(head, "groups: [devices]", "groups: devices\n    nmae: x", 1)
	_, err = Parse([]byte(text))
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf("provisioning: 2 problems:\n"+
		`  - line %d: services[2].groups: "devices" must be a list (write [devices] or a "- devices" item)`+"\n"+
		`  - line %d: unknown field "nmae" in services[2] (a service)`, lineOf(text, "groups: devices"), lineOf(text, "nmae")), err.Error())

	text = head + "\n# again\noutput: /tmp/other\n"
	_, err = Parse([]byte(text))
	require.Error(t, err)
	assert.Equal(t, fmt.Sprintf(`provisioning: line %d: key "output" is given twice (first at line %d)`,
		lineOf(text, "/tmp/other"), lineOf(text, "/tmp/out")), err.Error())

	text = head + "jwt:\n  ttl: 1x\n"
	_, err = Parse([]byte(text))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("line %d: ", lineOf(text, "ttl: 1x")), "a bad duration names its line")
	assert.Contains(t, err.Error(), `"1x"`)
}

// Every exported function's errors start with "provisioning: ", once.
func TestExportedErrorsCarryThePrefixOnce(t *testing.T) {
	t.Setenv("ZITI_USER", "")
	t.Setenv("VAULT_TOKEN", "")
	missing := t.TempDir() + "/missing.yaml"
	empty := t.TempDir() + "/empty.yaml"
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	errs := map[string]error{}
	_, errs["Parse"] = Parse([]byte("servicez: []\n"))
	_, errs["LoadFile"] = LoadFile(empty)
	_, errs["LoadDeclarations"] = LoadDeclarations(missing)
	invalid := t.TempDir() + "/invalid.yaml"
	require.NoError(t, os.WriteFile(invalid, []byte(strings.Replace(validYAML, "name: core-data", "name: Core_Data", 1)), 0o600))
	_, errs["LoadFile invalid"] = LoadFile(invalid)
	_, errs["LoadDeclarations invalid"] = LoadDeclarations(invalid)
	bad := parseValid(t)
	bad.Services[0].Name = "Core_Data"
	errs["Topology.Validate"] = bad.Validate()
	errs["Topology.ValidateDeclarations"] = bad.ValidateDeclarations()
	_, errs["New"] = New(t.Context(), bad, nil)
	_, errs["EdgeXSecretStoreEnv"] = parseValid(t).EdgeXSecretStoreEnv("nope")
	_, errs["EdgeXEnv"] = parseValid(t).EdgeXEnv("nope")
	_, errs["NewUsers"] = NewUsers(nil, UserOptions{})
	_, _, errs["VaultToken"] = VaultToken(missing)
	_, errs["ZitiManagement"] = ZitiManagement(t.Context(), parseValid(t), nil)
	_, errs["VaultAdmin"] = VaultAdmin(t.Context(), parseValid(t))
	errs["ValidateUserName"] = ValidateUserName("Bob")
	for name, err := range errs {
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), errPrefix), "%s: %v", name, err)
		assert.Equal(t, 1, strings.Count(err.Error(), errPrefix), "%s: %v", name, err)
	}
}

// LoadDeclarations reads no setting: one taken from an unset variable,
// even in a typed field, does not stop it; a declaration holding a
// reference is invalid; the file must be one document, as for LoadFile.
func TestLoadDeclarationsIgnoresSettingReferences(t *testing.T) {
	text := strings.Replace(validYAML, "port: 59900", "port: ${ZT_UNSET_PORT}", 1) +
		"jwt:\n  ttl: ${ZT_UNSET_TTL}\n  audience: ${ZT_UNSET_AUD}\n"
	text = strings.Replace(text, "output: /tmp/out", "output: ${ZT_UNSET_OUTPUT}", 1)
	file := t.TempDir() + "/t.yaml"
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	top, err := LoadDeclarations(file)
	require.NoError(t, err)
	assert.Len(t, top.Services, 3)

	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(text, "name: operator", "name: op-${ZT_UNSET_SUFFIX}", 1)), 0o600))
	_, err = LoadDeclarations(file)
	assert.ErrorContains(t, err, `clients[0].name: "op-${ZT_UNSET_SUFFIX}" is not a valid name`)

	require.NoError(t, os.WriteFile(file, []byte(validYAML+"---\nservices: []\n"), 0o600))
	_, err = LoadDeclarations(file)
	assert.ErrorContains(t, err, "more than one YAML document")
}

func TestNewWarnsAboutPlainHTTPVaultBeyondLoopback(t *testing.T) {
	top := parseValid(t)
	top.Vault.Address = "http://vault.invalid:8200"
	top.Vault.TokenFile = ""
	t.Setenv("VAULT_TOKEN", "x")
	var logs strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := New(ctx, top, slog.New(slog.NewTextHandler(&logs, nil)))
	require.Error(t, err, "vault.invalid does not resolve")
	assert.Contains(t, logs.String(), "plain http on a non-loopback address: the administrator's Vault token")
}

// File paths in a topology may start with ~/ (the user's home folder);
// the others stay relative to the topology's folder.
func TestLoadFileExpandsHomeInPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	file := filepath.Join(dir, "topology.yaml")
	text := strings.Replace(validYAML, "output: /tmp/out", "output: ~/ztedge-out", 1)
	text = strings.Replace(text, "  address: http://127.0.0.1:8200\n",
		"  address: http://127.0.0.1:8200\n  tokenFile: ~/.vault-token\n  caCert: vault-ca.pem\n", 1)
	text = strings.Replace(text, "  controller: 127.0.0.1:1280\n",
		"  controller: 127.0.0.1:1280\n  caCert: ~/ziti/ca.pem\n  passwordFile: secrets/ziti-pwd\n", 1)
	require.NoError(t, os.WriteFile(file, []byte(text), 0o600))
	top, err := LoadFile(file)
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(home, "ztedge-out"), top.Output)
	assert.Equal(t, filepath.Join(home, ".vault-token"), top.Vault.TokenFile)
	assert.Equal(t, filepath.Join(dir, "vault-ca.pem"), top.Vault.CACert)
	assert.Equal(t, filepath.Join(home, "ziti", "ca.pem"), top.Ziti.CACert)
	assert.Equal(t, filepath.Join(dir, "secrets", "ziti-pwd"), top.Ziti.PasswordFile)

	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(validYAML, "output: /tmp/out", "output: ~bob/out", 1)), 0o600))
	_, err = LoadFile(file)
	assert.ErrorContains(t, err, "topology "+file+": output: ~bob/out: only ~/ (your own home folder) is supported, not ~user/")
}

// A topology file is at most 4 MiB: a wrong -f (here an endless device)
// is refused at once instead of read without bound.
func TestTopologyFilesHaveASizeLimit(t *testing.T) {
	_, err := LoadFile("/dev/zero")
	assert.ErrorContains(t, err, "provisioning: reading topology: /dev/zero: larger than 4 MiB: more than any file ztedge reads")
	_, err = LoadDeclarations("/dev/zero")
	assert.ErrorIs(t, err, configfile.ErrTooLarge)
}
