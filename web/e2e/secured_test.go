package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"corral/internal/testcluster"
)

// TestConsoleSecured opens the console of a cluster that serves TLS from
// its own CA and demands credentials, as `corral dev --secure` does: the
// browser trusts the cluster's certificate and answers the Basic prompt
// as the operator (no cookies), and the console shows the cluster live,
// reaching the services framework through the master's proxy.
func TestConsoleSecured(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{Agents: 1, Secure: true})
	c.StartFramework("services")
	pin := spki(t, c.Security.TLS.Cert)
	b := startBrowser(t, chromedp.Flag("ignore-certificate-errors-spki-list", pin))
	ops := c.Security.Credential("ops")
	var prompts atomic.Int32
	// The handlers run commands, which a listener must not: they go on
	// goroutines of their own.
	if err := chromedp.Listen(b.ctx, func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventAuthRequired:
			prompts.Add(1)
			go func() {
				_, _ = chromedp.Call(b.ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
					AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials,
						Username: ops.Principal, Password: ops.Secret}})
			}()
		case *fetch.EventRequestPaused:
			go func() {
				_, _ = chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}()
		}
	}); err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &yes}); err != nil {
		t.Fatalf("answering the Basic prompt: %v", err)
	}
	b.do("opening the console over https", chromedp.Navigate(c.URL+"/#/cluster"))
	b.waitJS("the agent and the services framework on the cluster page", 30*time.Second,
		`document.querySelectorAll('#agents tr[data-agent-id]').length === 1 &&
		 document.querySelector('#frameworks tr[data-framework-name="services"]')`)
	b.waitJS("the cluster page's live stream", 10*time.Second, `document.getElementById('live').dataset.state === 'open'`)
	b.click("the Services tab", `a[data-nav="services"]`)
	b.waitJS("the services page, through the master's proxy", 20*time.Second,
		`document.body.innerText.includes('No apps yet')`)
	b.screenshot("secured-cluster")
	if prompts.Load() == 0 {
		t.Error("the browser was never asked for credentials; want the Basic challenge")
	}
}

// spki is the base64 SHA-256 of a certificate's public key, as
// --ignore-certificate-errors-spki-list takes it: the browser then trusts
// that one certificate, as it would once the cluster's CA is installed.
func spki(t *testing.T, certFile string) string {
	t.Helper()
	b, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", certFile)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}
