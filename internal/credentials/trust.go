package credentials

import (
	"os"
	"path/filepath"
)

// Names of the CA bundles provisioning writes next to a service's
// credentials file, so that the service trusts the controller and Vault
// the provisioner trusted, from its first start and without settings.
const (
	// ControllerCAFileName holds the controller's CA bundle.
	ControllerCAFileName = "ziti-controller-ca.pem"
	// VaultCAFileName holds the CA of Vault's TLS certificate; written
	// only when the topology names one (vault.caCert).
	VaultCAFileName = "vault-ca.pem"
)

// NextTo returns the path of the file name in the folder of the
// credentials file credsFile.
func NextTo(credsFile, name string) string {
	return filepath.Join(filepath.Dir(credsFile), name)
}

// DefaultVaultCA returns the Vault CA bundle next to the credentials file
// credsFile when provisioning wrote one, else "" (the system's roots).
func DefaultVaultCA(credsFile string) string {
	if credsFile == "" {
		return ""
	}
	p := NextTo(credsFile, VaultCAFileName)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
		return p
	}
	return ""
}
