package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// certificates are the simulator's TLS identity: a fresh CA (ca.pem, the
// file clients verify against) and a server certificate it signed, both
// ECDSA P-256, which OpenSSL 3 accepts at its default security level (the
// simulator's built-in certificate is RSA-1024 and is refused).
type certificates struct {
	caFile     string
	certFile   string
	keyFile    string
	thumbprint string // SHA-256 of the server certificate, colon-separated hex
	tls        tls.Certificate
}

// writeCertificates creates the certificates and writes them to dir. The
// server certificate names localhost, 127.0.0.1, ::1 and listenIP.
func writeCertificates(dir string, listenIP net.IP) (*certificates, error) {
	now := time.Now()

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "vsray-sim CA", Organization: []string{"vsray"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if listenIP != nil && !listenIP.Equal(ips[0]) && !listenIP.Equal(ips[1]) {
		ips = append(ips, listenIP)
	}
	template := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"vsray"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}

	c := &certificates{
		caFile:     filepath.Join(dir, "ca.pem"),
		certFile:   filepath.Join(dir, "cert.pem"),
		keyFile:    filepath.Join(dir, "key.pem"),
		thumbprint: thumbprint(der),
		tls:        tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}
	files := []struct {
		path   string
		mode   os.FileMode
		blocks []*pem.Block
	}{
		{c.caFile, 0o644, []*pem.Block{{Type: "CERTIFICATE", Bytes: caDER}}},
		{c.certFile, 0o644, []*pem.Block{{Type: "CERTIFICATE", Bytes: der}, {Type: "CERTIFICATE", Bytes: caDER}}},
		{c.keyFile, 0o600, []*pem.Block{{Type: "PRIVATE KEY", Bytes: keyDER}}},
	}
	for _, f := range files {
		var data []byte
		for _, b := range f.blocks {
			data = append(data, pem.EncodeToMemory(b)...)
		}
		if err := writeFileAtomic(f.path, data, f.mode); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n.Add(n, big.NewInt(1))
}

func thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hex, ":")
}

// writeFileAtomic writes data to path with mode, replacing any old file only
// once the new one is complete.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
