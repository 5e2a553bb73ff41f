// Package pki is a throwaway certificate authority for TLS and mTLS tests:
// in memory (NewCA, Issue, Pool) or as PEM files of a CA, a server and a
// client certificate (NewFiles). Never use it outside tests.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// ServerName is a DNS name in every issued certificate besides localhost
// and 127.0.0.1, for tests of a client's server-name override.
const ServerName = "user-server.test"

// CA is a certificate authority of one test.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     *ecdsa.PrivateKey
}

// NewCA returns a fresh CA named name, valid from an hour ago for a day.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, CertPEM: encode("CERTIFICATE", der), key: key}
}

var serial atomic.Int64

// Issue returns a PEM certificate and PKCS #8 key signed by the CA, for
// usage (server or client authentication), valid for 127.0.0.1, localhost
// and ServerName.
func (ca *CA) Issue(tb testing.TB, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1 + serial.Add(1)),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     []string{"localhost", ServerName},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	return encode("CERTIFICATE", der), encode("PRIVATE KEY", keyDER)
}

// KeyPair is Issue as a tls.Certificate.
func (ca *CA) KeyPair(tb testing.TB, name string, usage x509.ExtKeyUsage) tls.Certificate {
	tb.Helper()
	kp, err := tls.X509KeyPair(ca.Issue(tb, name, usage))
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

// Pool returns a pool trusting the CA alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Files holds PEM file paths in a test's temporary directory.
type Files struct {
	CA                    string // CA certificate
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// NewFiles writes a fresh CA, a server certificate and a client certificate
// signed by it into tb.TempDir().
func NewFiles(tb testing.TB) Files {
	tb.Helper()
	dir := tb.TempDir()
	f := Files{
		CA:         filepath.Join(dir, "ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"),
		ServerKey:  filepath.Join(dir, "server-key.pem"),
		ClientCert: filepath.Join(dir, "client.pem"),
		ClientKey:  filepath.Join(dir, "client-key.pem"),
	}
	ca := NewCA(tb, "user-service test CA")
	write(tb, f.CA, ca.CertPEM)
	cert, key := ca.Issue(tb, "user-server", x509.ExtKeyUsageServerAuth)
	write(tb, f.ServerCert, cert)
	write(tb, f.ServerKey, key)
	cert, key = ca.Issue(tb, "user-client", x509.ExtKeyUsageClientAuth)
	write(tb, f.ClientCert, cert)
	write(tb, f.ClientKey, key)
	return f
}

// ServerTLS returns a server config presenting the server certificate; with
// requireClientCert it demands a client certificate signed by the CA.
func (f Files) ServerTLS(tb testing.TB, requireClientCert bool) *tls.Config {
	tb.Helper()
	cert, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClientCert {
		data, err := os.ReadFile(f.CA)
		if err != nil {
			tb.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			tb.Fatalf("%s: no certificate", f.CA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func encode(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func write(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}
