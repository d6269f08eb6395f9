// Package incluster is the Kubernetes API as a pod sees it: the API server's certificate
// checked against the service account's CA, requests authenticated with its token. The
// kind image's own programs (kindnet, kube-targets) read the API through it; each stays one
// static binary with no client library (their modules must build offline).
package incluster

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ServiceAccount is where the kubelet mounts the pod's service account (a variable for
// the tests).
var ServiceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

// Client reads the API server at Base (https://host:port).
type Client struct {
	Base string
	http *http.Client
}

// New is a client of the API server at endpoint (host:port) that trusts the service
// account's CA.
func New(endpoint string) (*Client, error) {
	ca, err := os.ReadFile(filepath.Join(ServiceAccount, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", ServiceAccount)
	}
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &Client{
		Base: "https://" + endpoint,
		http: &http.Client{Transport: transport, Timeout: 10 * time.Second},
	}, nil
}

// Get is the body of GET path (e.g. /api/v1/nodes); an answer other than 200 is an error
// that names the path, the status and the API server's message.
func (c *Client) Get(path string) ([]byte, error) {
	// The token is re-read each time: the kubelet rotates projected tokens.
	token, err := os.ReadFile(filepath.Join(ServiceAccount, "token"))
	if err != nil {
		return nil, err
	}
	request, err := http.NewRequest(http.MethodGet, c.Base+path, nil)
	if err != nil {
		return nil, err
	}
	request.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	response, err := c.http.Do(request)
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return nil, err
	}
	if response.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", path, response.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}
