package zerotrust

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ztedge/ztedge/internal/configfile"
)

const sampleConfig = `
Service:
  Name: core-data
  Port: 59880
  HealthPort: 59980
  SecurityOptions:
    Mode: ZeroTrust
    OpenZitiController: 127.0.0.1:1280
    VaultCredentialsFile: creds.json
Clients:
  core-metadata:
    SecurityOptions:
      Mode: zerotrust
  legacy:
    Host: 10.0.0.1
    Port: 8080
`

func TestParseModeIsCaseInsensitive(t *testing.T) {
	for _, s := range []string{"zerotrust", "ZeroTrust", " ZEROTRUST "} {
		m, err := ParseMode(s)
		require.NoError(t, err)
		assert.Equal(t, ModeZeroTrust, m)
	}
	m, err := ParseMode("")
	require.NoError(t, err)
	assert.Equal(t, ModePlain, m)
	_, err = ParseMode("zerotrsut")
	require.ErrorContains(t, err, `unknown mode "zerotrsut"`)
	_, err = ParseMode("http")
	require.ErrorContains(t, err, `unknown mode "http"`, "plain mode is named plain")
}

func TestLoadConfigDefaultsAndPaths(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "configuration.yaml")
	require.NoError(t, os.WriteFile(path, []byte(sampleConfig), 0o600))
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	assert.Equal(t, ModeZeroTrust, cfg.Service.Mode())
	assert.Equal(t, "edgex.core-data", cfg.Service.ZitiService())
	assert.Equal(t, DefaultPingPath, cfg.Service.PingPath)
	assert.Equal(t, filepath.Join(dir, "creds.json"), cfg.Service.SecurityOptions.Get(KeyCredentials))
	md := cfg.Clients["core-metadata"]
	assert.Equal(t, "http://core-metadata.edgex.ziti:80", md.BaseURL())
	assert.Equal(t, ModePlain, cfg.Clients["legacy"].Mode())
}

// The file paths of SecurityOptions may start with ~/ (the user's home
// folder), in the file or in an environment override; the others stay
// relative to the configuration's folder.
func TestLoadConfigExpandsHomeInPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	dir := t.TempDir()
	path := filepath.Join(dir, "configuration.yaml")
	text := strings.Replace(sampleConfig, "VaultCredentialsFile: creds.json",
		"VaultCredentialsFile: ~/creds.json\n    OpenZitiCAFile: ziti-ca.pem", 1)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	t.Setenv("SERVICE_SECURITYOPTIONS_VAULTCAFILE", "~/vault/ca.pem")
	cfg, err := LoadConfig(path)
	require.NoError(t, err)
	opts := cfg.Service.SecurityOptions
	assert.Equal(t, filepath.Join(home, "creds.json"), opts.Get(KeyCredentials))
	assert.Equal(t, filepath.Join(dir, "ziti-ca.pem"), opts.Get(KeyControllerCA))
	assert.Equal(t, filepath.Join(home, "vault", "ca.pem"), opts.Get(KeyVaultCA))

	t.Setenv("SERVICE_SECURITYOPTIONS_VAULTCAFILE", "~bob/ca.pem")
	_, err = LoadConfig(path)
	assert.ErrorContains(t, err, "zerotrust: configuration "+path+": Service.SecurityOptions.VaultCAFile: ~bob/ca.pem: only ~/ (your own home folder) is supported, not ~user/")
}

// A configuration file is at most 4 MiB: a wrong path (here an endless
// device) is refused at once instead of read without bound.
func TestLoadConfigHasASizeLimit(t *testing.T) {
	_, err := LoadConfig("/dev/zero")
	require.ErrorIs(t, err, configfile.ErrTooLarge)
	assert.EqualError(t, err, "zerotrust: reading the configuration: /dev/zero: larger than 4 MiB: more than any file ztedge reads")
}

func TestApplyEnvInEdgeXStyle(t *testing.T) {
	cfg, err := ParseConfig([]byte(sampleConfig))
	require.NoError(t, err)
	require.NoError(t, cfg.ApplyEnv([]string{
		"SERVICE_SECURITYOPTIONS_MODE=",
		"SERVICE_PORT=60000",
		"SERVICE_HEALTHPORT=0",
		"CLIENTS_CORE_METADATA_SECURITYOPTIONS_MODE=plain",
		"CLIENTS_CORE_METADATA_HOST=127.0.0.1",
		"CLIENTS_CORE_METADATA_PORT=59881",
		"CLIENTS_UNKNOWN_HOST=ignored",
	}))
	require.NoError(t, cfg.Validate())
	assert.Equal(t, ModePlain, cfg.Service.Mode())
	assert.Equal(t, 60000, cfg.Service.Port)
	assert.Equal(t, 0, cfg.Service.HealthPort)
	assert.Equal(t, ModePlain, cfg.Clients["core-metadata"].Mode())
	assert.Equal(t, "http://127.0.0.1:59881", cfg.Clients["core-metadata"].BaseURL())

	err = cfg.ApplyEnv([]string{"SERVICE_PORT=eighty"})
	require.ErrorContains(t, err, "SERVICE_PORT")
	err = cfg.ApplyEnv([]string{"SERVICE_SECURITYOPTIONS_OPENZITICONTROLER=x"})
	require.ErrorContains(t, err, "SERVICE_SECURITYOPTIONS_OPENZITICONTROLER: unknown SecurityOptions key OPENZITICONTROLER")
	err = cfg.ApplyEnv([]string{"CLIENTS_CORE_METADATA_SECURITYOPTIONS_REQUIREJTW=false"})
	require.ErrorContains(t, err, "unknown SecurityOptions key REQUIREJTW")
}

func TestValidateRefusesIncompleteZeroTrust(t *testing.T) {
	cases := map[string]struct {
		edit string
		want string
	}{
		"unknown mode":       {"Mode: ZeroTrust|Mode: zero-trust", `Service.SecurityOptions.Mode: unknown mode "zero-trust"`},
		"missing controller": {"OpenZitiController: 127.0.0.1:1280|", "Service.SecurityOptions.OpenZitiController: missing"},
		"http controller":    {"OpenZitiController: 127.0.0.1:1280|OpenZitiController: http://x:1", `the scheme must be https`},
		"missing creds":      {"VaultCredentialsFile: creds.json|", "Service.SecurityOptions.VaultCredentialsFile: missing"},
		"missing name":       {"Name: core-data|", "Service.Name: missing"},
		"unknown key":        {"VaultCredentialsFile: creds.json|VaultCredentialsFile: creds.json\n    OpenZitiControler: x", "unknown key OpenZitiControler"},
		"bad health port":    {"HealthPort: 59980|HealthPort: 70000", "Service.HealthPort: 70000"},
		"plain client host":  {"Host: 10.0.0.1|", "Clients.legacy.Host: missing"},
		"unknown field":      {"HealthPort: 59980|HealthPort: 59980\n  Hlth: 1", "Hlth"},
		"bad name":           {"Name: core-data|Name: Core Data", `Service.Name: "Core Data" is not a service name`},
		"bad health host":    {"HealthPort: 59980|HealthPort: 59980\n  HealthHost: not a host", `Service.HealthHost: "not a host" is not a host name`},
		"bad peer key":       {"core-metadata:|Core_Meta:", `Clients.Core_Meta: "Core_Meta" names no service`},
		"URL as host":        {"Host: 10.0.0.1|Host: http://10.0.0.7/", `Clients.legacy.Host: "http://10.0.0.7/" is not a host name`},
		"bad relay":          {"VaultCredentialsFile: creds.json|VaultCredentialsFile: creds.json\n    TrustedRelays: gateway, Bad Name!", `TrustedRelays: "Bad Name!" is not an identity name`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			from, to, _ := strings.Cut(tc.edit, "|")
			raw := strings.Replace(sampleConfig, from, to, 1)
			cfg, err := ParseConfig([]byte(raw))
			if err == nil {
				err = cfg.Validate()
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestVaultAddressMayHaveAPathPrefix(t *testing.T) {
	cfg := &Config{Service: ServiceConfig{Port: 59880, SecurityOptions: SecurityOptions{KeyVaultAddress: "https://gateway.example/vault"}}}
	require.NoError(t, cfg.Validate(), "a Vault behind a gateway at a path")
	cfg = &Config{Service: ServiceConfig{Port: 59880, SecurityOptions: SecurityOptions{KeyVaultAddress: "https://user:pw@gateway.example/vault"}}}
	require.ErrorContains(t, cfg.Validate(), "must not hold a user or password")
}

func TestIPv6PlainPeer(t *testing.T) {
	for _, host := range []string{"::1", "[::1]"} {
		cfg, err := ParseConfig([]byte(strings.Replace(sampleConfig, "Host: 10.0.0.1", "Host: \""+host+"\"", 1)))
		require.NoError(t, err)
		require.NoError(t, cfg.Validate(), host)
		assert.Equal(t, "http://[::1]:8080", cfg.Clients["legacy"].BaseURL(), host)
	}
}

func TestControllerURL(t *testing.T) {
	u, err := ControllerURL("ctrl.example:1280")
	require.NoError(t, err)
	assert.Equal(t, "https://ctrl.example:1280", u)
	u, err = ControllerURL("https://ctrl.example:1280/edge/client/v1")
	require.NoError(t, err)
	assert.Equal(t, "https://ctrl.example:1280", u)
}

func TestPlainModeRequiresJWTsByDefault(t *testing.T) {
	cfg, err := ParseConfig([]byte("Service:\n  Port: 59880\n"))
	require.NoError(t, err)
	err = cfg.Validate()
	require.ErrorContains(t, err, "JWTs are required")

	cfg, err = ParseConfig([]byte("Service:\n  Port: 59880\n  SecurityOptions:\n    VaultAddress: http://127.0.0.1:8200\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.Service.RequireJWT())

	cfg, err = ParseConfig([]byte("Service:\n  Port: 59880\n  SecurityOptions:\n    RequireJWT: \"false\"\n"))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.False(t, cfg.Service.RequireJWT())

	cfg, err = ParseConfig([]byte("Service:\n  Port: 59880\n  SecurityOptions:\n    RequireJWT: maybe\n    JWTValidation: remote\n"))
	require.NoError(t, err)
	err = cfg.Validate()
	require.ErrorContains(t, err, `RequireJWT: "maybe" is not true or false`)
	require.ErrorContains(t, err, `JWTValidation: "remote" is not one of local, introspect, both`)
}

func TestZeroTrustModeJWTIsOptIn(t *testing.T) {
	cfg, err := ParseConfig([]byte(sampleConfig))
	require.NoError(t, err)
	require.NoError(t, cfg.Validate())
	assert.False(t, cfg.Service.RequireJWT())
	cfg.Service.SecurityOptions[KeyRequireJWT] = "true"
	require.NoError(t, cfg.Validate())
	assert.True(t, cfg.Service.RequireJWT())
}

func TestKeysDifferingOnlyInCaseAreRefused(t *testing.T) {
	cfg, err := ParseConfig([]byte("Service:\n  Port: 1\n  SecurityOptions:\n    RequireJWT: \"true\"\n    requirejwt: \"false\"\n    VaultAddress: http://v\n"))
	require.NoError(t, err)
	require.ErrorContains(t, cfg.Validate(), "are the same key RequireJWT")
}

func TestIdentityFileInsteadOfVaultCredentials(t *testing.T) {
	parse := func(t *testing.T, from, to string) error {
		t.Helper()
		cfg, err := ParseConfig([]byte(strings.Replace(sampleConfig, from, to, 1)))
		require.NoError(t, err)
		return cfg.Validate()
	}
	// legacy is a plain peer: it would get the service's JWT, which a
	// service joining with an identity file does not have.
	withoutLegacy := func(s string) string { return s[:strings.Index(s, "  legacy:")] }
	t.Run("an identity file is enough in zerotrust mode", func(t *testing.T) {
		cfg, err := ParseConfig([]byte(withoutLegacy(strings.Replace(sampleConfig,
			"    OpenZitiController: 127.0.0.1:1280\n    VaultCredentialsFile: creds.json", "    OpenZitiIdentityFile: id.json", 1))))
		require.NoError(t, err)
		require.NoError(t, cfg.Validate())
		require.NoError(t, cfg.resolvePaths("/etc/core-data"))
		assert.Equal(t, "/etc/core-data/id.json", cfg.Service.SecurityOptions.Get(KeyIdentityFile))
	})
	t.Run("not in plain mode", func(t *testing.T) {
		err := parse(t, "Mode: ZeroTrust", "Mode: plain\n    OpenZitiIdentityFile: id.json\n    RequireJWT: \"false\"")
		assert.ErrorContains(t, err, "Service.SecurityOptions.OpenZitiIdentityFile: set, but Mode is not zerotrust")
	})
	t.Run("a peer that requires JWTs needs the Vault credentials", func(t *testing.T) {
		err := parse(t, "VaultCredentialsFile: creds.json", "OpenZitiIdentityFile: id.json")
		assert.ErrorContains(t, err, "Clients.legacy.SecurityOptions.RequireJWT: the peer requires JWTs, but the service joins with OpenZitiIdentityFile and has no Vault credentials")
	})
	t.Run("neither credentials nor identity", func(t *testing.T) {
		err := parse(t, "VaultCredentialsFile: creds.json", "")
		assert.ErrorContains(t, err, "VaultCredentialsFile: missing (zerotrust mode needs the service's Vault credentials, or an enrolled identity in OpenZitiIdentityFile)")
	})
}

// Every error of the package's exported functions starts with
// "zerotrust: ", once, also where one exported function calls another.
func TestErrorsCarryThePrefixOnce(t *testing.T) {
	badController := strings.Replace(sampleConfig, "127.0.0.1:1280", "http://ctrl:1280", 1)
	invalid, err := ParseConfig([]byte(badController))
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte(badController), 0o600))
	errs := map[string]error{}
	_, errs["ParseMode"] = ParseMode("zerotrsut")
	_, errs["SecurityOptions.Mode"] = SecurityOptions{KeyMode: "zerotrsut"}.Mode()
	_, errs["ControllerURL"] = ControllerURL("http://ctrl:1280")
	_, errs["ParseConfig"] = ParseConfig([]byte("Service:\n  SecurityOptions: [Mode]\n"))
	_, errs["ParseConfig empty"] = ParseConfig(nil)
	errs["Config.Validate"] = invalid.Validate()
	errs["Config.ApplyEnv"] = (&Config{}).ApplyEnv([]string{"SERVICE_PORT=eighty"})
	_, errs["LoadConfig"] = LoadConfig(file)
	_, errs["LoadConfig missing"] = LoadConfig(file + ".missing")
	_, errs["New"] = New(context.Background(), invalid, Options{})
	_, errs["New nil"] = New(context.Background(), nil, Options{})
	for name, err := range errs {
		require.Error(t, err, name)
		assert.True(t, strings.HasPrefix(err.Error(), "zerotrust: "), "%s: %v", name, err)
		assert.Equal(t, 1, strings.Count(err.Error(), "zerotrust: "), "%s: %v", name, err)
	}
	assert.EqualError(t, errs["ControllerURL"], `zerotrust: "http://ctrl:1280": the scheme must be https (the controller speaks https)`)
	assert.EqualError(t, errs["Config.Validate"], `zerotrust: Service.SecurityOptions.OpenZitiController: "http://ctrl:1280": the scheme must be https (the controller speaks https)`)
	assert.EqualError(t, errs["LoadConfig"], "zerotrust: configuration "+file+`: Service.SecurityOptions.OpenZitiController: "http://ctrl:1280": the scheme must be https (the controller speaks https)`)
	assert.EqualError(t, errs["ParseConfig"], `zerotrust: line 2: Service.SecurityOptions must be a mapping, not a list`)
	assert.EqualError(t, errs["ParseConfig empty"], `zerotrust: the file is empty`)
}

// Decoding errors name the setting, never a Go type.
func TestParseConfigErrorsSpeakYAML(t *testing.T) {
	for yaml, want := range map[string]string{
		"Service:\n  Port: [1]\n":           `zerotrust: line 2: Service.Port must be a single value, not a list`,
		"Service:\n  Port: eighty\n":        `zerotrust: line 2: Service.Port: "eighty" must be a number`,
		"Service:\n  Nmae: core-data\n":     `zerotrust: line 2: unknown field "Nmae" in Service`,
		"Clients:\n  redis:\n    Hots: x\n": `zerotrust: line 3: unknown field "Hots" in Clients.redis (a client)`,
		"Servce: {}\n":                      `zerotrust: line 1: unknown field "Servce" in the configuration`,
	} {
		_, err := ParseConfig([]byte(yaml))
		assert.EqualError(t, err, want, yaml)
	}
}
