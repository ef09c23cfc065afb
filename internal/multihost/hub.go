//go:build linux

package multihost

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ztedge/ztedge/internal/testhosts"
	"github.com/ztedge/ztedge/internal/vaultserver"
)

// Ports every host uses; each host has its own network namespace, so they
// never clash with anything on the machine's loopback.
const (
	VaultPort      = 8200  // Vault API (and VaultPort+1, its cluster port)
	ControllerPort = 1280  // Ziti controller: client, management and control plane
	RouterPort     = 3022  // edge router listener for SDKs
	LinkPort       = 10080 // router-to-router links
)

// hubRouter is the name of the quickstart's own router on the hub.
const hubRouter = "hub-router"

// readyTimeout bounds each wait for a component to come up.
const readyTimeout = 2 * time.Minute

// Hub is the host that runs Vault and the Ziti controller.
type Hub struct {
	// Host is the hub's test host.
	Host *testhosts.Host
	// VaultAddr is "https://IP:8200"; VaultToken its root token (from its
	// initialisation, kept with the unseal key in VaultFiles.InitFile()).
	VaultAddr, VaultToken string
	// VaultCAFile is the CA of Vault's TLS certificate (PEM), for
	// VaultCAFile in a service's SecurityOptions and vault.caCert in a
	// topology.
	VaultCAFile string
	// VaultFiles are Vault's certificates, configuration, init file and
	// file storage, in <hub dir>/vault.
	VaultFiles vaultserver.Paths
	// ControllerURL is "https://IP:1280".
	ControllerURL string
	// CAFile is the controller's root CA (PEM), which its TLS chain ends at.
	CAFile string
	// AdminPassword is the Ziti admin's password (user "admin").
	AdminPassword string
	// Vault and Ziti are the running processes.
	Vault, Ziti *testhosts.Process

	zitiBin, vaultBin string
	vaultClient       *http.Client
}

// StartHub starts Vault and "ziti edge quickstart" on h, both bound to
// h's address, waits until Vault answers, the controller answers with a
// certificate valid for h's IP, the ziti CLI on h is logged in as admin,
// and the quickstart's router is online. The processes stop at the
// network's cleanup.
//
// Vault is a real server, not the dev server: TLS with a CA and
// certificate generated for h's address (VaultCAFile), file storage, and
// one unseal key. StartHub initialises and unseals it, and keeps
// unsealing it whenever it comes back sealed (after RestartVault or
// StartVault), for as long as the quickstart runs. The controller trusts
// Vault's CA (SSL_CERT_FILE) to fetch Vault's signing keys over https.
func StartHub(ctx context.Context, h *testhosts.Host, zitiBin, vaultBin string) (*Hub, error) {
	files := vaultserver.Paths{Dir: filepath.Join(h.Dir, "vault")}
	hub := &Hub{
		Host:          h,
		VaultAddr:     "https://" + h.Addr(VaultPort),
		VaultCAFile:   files.CAFile(),
		VaultFiles:    files,
		ControllerURL: "https://" + h.Addr(ControllerPort),
		CAFile:        filepath.Join(h.Dir, "ziti", "pki", "root-ca", "certs", "root-ca.cert"),
		AdminPassword: randomHex(),
		zitiBin:       zitiBin,
		vaultBin:      vaultBin,
	}
	if err := vaultserver.WriteTLS(files, []net.IP{h.IP.AsSlice(), net.IPv4(127, 0, 0, 1)}, nil); err != nil {
		return nil, err
	}
	if err := vaultserver.WriteConfig(files, h.Addr(VaultPort), hub.VaultAddr); err != nil {
		return nil, err
	}
	var err error
	if hub.vaultClient, err = vaultserver.HTTPClient(files, h.Dial); err != nil {
		return nil, err
	}
	if err := hub.startVaultProcess(); err != nil {
		return nil, err
	}
	if err := hub.StartController(); err != nil {
		return nil, err
	}
	ip := h.IP.String()
	if err := waitFor(ctx, "vault to answer on "+hub.VaultAddr, hub.Vault, func(ctx context.Context) error {
		_, err := vaultserver.SealStatus(ctx, hub.vaultClient, hub.VaultAddr)
		return err
	}); err != nil {
		return nil, err
	}
	if hub.VaultToken, err = vaultserver.Init(ctx, hub.vaultClient, hub.VaultAddr, files); err != nil {
		return nil, err
	}
	if err := hub.waitVaultActive(ctx); err != nil {
		return nil, err
	}
	keeperCtx, stopKeeper := context.WithCancel(context.Background())
	go func() {
		<-hub.Ziti.Done()
		stopKeeper()
	}()
	go vaultserver.KeepUnsealed(keeperCtx, hub.vaultClient, hub.VaultAddr, files, 250*time.Millisecond, nil)

	if err := waitFor(ctx, "the controller to answer on "+hub.ControllerURL+" with a certificate for "+ip, hub.Ziti, func(ctx context.Context) error {
		tlsClient, err := hub.verifyingClient()
		if err != nil {
			return err
		}
		return getOK(ctx, tlsClient, hub.ControllerURL+"/edge/client/v1/version")
	}); err != nil {
		return nil, err
	}
	// The first logins right after the API answers may fail: retry.
	if err := waitFor(ctx, "the ziti CLI on the hub to log in", hub.Ziti, func(ctx context.Context) error {
		_, err := hub.CLI(ctx, "edge", "login", hub.ControllerURL, "--username", "admin",
			"--password", hub.AdminPassword, "--ca", hub.CAFile)
		return err
	}); err != nil {
		return nil, err
	}
	if err := hub.WaitRouterOnline(ctx, hubRouter); err != nil {
		return nil, err
	}
	return hub, nil
}

// CLI runs "ziti ARGS" on the hub, where the CLI is logged in as admin,
// and returns its output.
func (hub *Hub) CLI(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return hub.Host.Run(ctx, hub.zitiBin, args...)
}

// WaitRouterOnline waits until the controller reports edge router name
// online.
func (hub *Hub) WaitRouterOnline(ctx context.Context, name string) error {
	return waitFor(ctx, "edge router "+name+" to be online", hub.Ziti, func(ctx context.Context) error {
		out, err := hub.CLI(ctx, "edge", "list", "edge-routers", fmt.Sprintf("name=%q", name), "--output-json")
		if err != nil {
			return err
		}
		var list struct {
			Data []struct {
				IsOnline bool `json:"isOnline"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			return fmt.Errorf("parse the router list: %w", err)
		}
		if len(list.Data) != 1 || !list.Data[0].IsOnline {
			return fmt.Errorf("router %s not online yet", name)
		}
		return nil
	})
}

// verifyingClient returns an HTTP client on the hub's host that trusts
// only the controller's root CA and checks the certificate's host.
func (hub *Hub) verifyingClient() (*http.Client, error) {
	pem, err := os.ReadFile(hub.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate yet", hub.CAFile)
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:     hub.Host.Dial,
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}, nil
}

// getOK does a GET and fails unless the status is 200.
func getOK(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// waitFor calls probe every 250 ms until it succeeds, p exits, ctx ends or
// readyTimeout passes. Errors end with the tail of p's log.
func waitFor(ctx context.Context, what string, p *testhosts.Process, probe func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		err := probe(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (%v) while waiting for %s; %s", p.Label, p.Err(), what, p.LogTail(20))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out waiting for %s (last error: %v); %s", what, err, p.LogTail(20))
			}
			return fmt.Errorf("stopped waiting for %s: %w", what, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// randomHex returns 32 random hex digits, for tokens and passwords.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// StartController starts "ziti edge quickstart" (the controller and the
// hub's router) on the hub: at StartHub, and again after a test stopped
// hub.Ziti, reusing its home. It returns once the process runs, not once
// the controller answers.
func (hub *Hub) StartController() error {
	h := hub.Host
	ip := h.IP.String()
	qs := h.Command(context.Background(), hub.zitiBin, "edge", "quickstart",
		"--home", filepath.Join(h.Dir, "ziti"),
		"--ctrl-address", ip, "--ctrl-port", strconv.Itoa(ControllerPort),
		"--router-address", ip, "--router-port", strconv.Itoa(RouterPort),
		// An initialised home is reused: the password counts only the first time.
		"--username", "admin", "--password", hub.AdminPassword)
	qs.Env = append(qs.Env,
		// --ctrl-address puts an IP only in a DNS SAN; the controller
		// then refuses its own certificate for that host and exits.
		"ZITI_CTRL_EDGE_IP_OVERRIDE="+ip,
		"ZITI_ROUTER_IP_OVERRIDE="+ip,
		"ZITI_ROUTER_NAME="+hubRouter,
		// The quickstart's own CLI login goes here, not to the hub's
		// ~/.config/ziti, which the CLI calls below use.
		"ZITI_CONFIG_DIR="+filepath.Join(h.Dir, "quickstart-cli"),
		// The controller fetches the external JWT signer's keys (Vault's
		// JWKS) with Go's default client: make it trust Vault's CA.
		"SSL_CERT_FILE="+hub.VaultCAFile,
	)
	p, err := h.Start("ziti-quickstart", qs)
	if err != nil {
		return err
	}
	hub.Ziti = p
	return nil
}
