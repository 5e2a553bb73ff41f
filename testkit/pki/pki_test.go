package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// TestChains: an issued certificate verifies against its CA for its usage
// and names, and not against another CA.
func TestChains(t *testing.T) {
	t.Parallel()
	ca, other := NewCA(t, "a"), NewCA(t, "b")
	certPEM, _ := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"127.0.0.1", "localhost", ServerName} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: other.Pool()}); err == nil {
		t.Error("verified against another CA")
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a server certificate verified for client authentication")
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	f := NewFiles(t)
	for _, p := range []string{f.CA, f.ServerCert, f.ServerKey, f.ClientCert, f.ClientKey} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey); err != nil {
		t.Errorf("client key pair: %v", err)
	}
	cfg := f.ServerTLS(t, true)
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil || len(cfg.Certificates) != 1 {
		t.Errorf("ServerTLS(mTLS) = %+v", cfg)
	}
	if cfg := f.ServerTLS(t, false); cfg.ClientAuth != tls.NoClientCert {
		t.Errorf("ServerTLS(TLS) asks for client certificates")
	}
}
