package incluster

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve starts a TLS API server answering with handler and points ServiceAccount at a
// folder holding its CA and the token "t0k3n".
func serve(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	server := httptest.NewTLSServer(handler)
	t.Cleanup(server.Close)
	dir := t.TempDir()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: server.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("t0k3n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := ServiceAccount
	ServiceAccount = dir
	t.Cleanup(func() { ServiceAccount = old })
	client, err := New(strings.TrimPrefix(server.URL, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func TestGetSendsTheTokenAndReturnsTheBody(t *testing.T) {
	client := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k3n" || r.URL.Path != "/api/v1/nodes" {
			http.Error(w, "unexpected request", http.StatusTeapot)
			return
		}
		_, _ = w.Write([]byte(`{"items": []}`))
	})
	body, err := client.Get("/api/v1/nodes")
	if err != nil || string(body) != `{"items": []}` {
		t.Fatalf("Get = %q, %v", body, err)
	}
}

func TestGetNamesThePathAndStatusOfARefusal(t *testing.T) {
	client := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "pods is forbidden", http.StatusForbidden)
	})
	_, err := client.Get("/api/v1/pods")
	if err == nil || err.Error() != "GET /api/v1/pods: HTTP 403: pods is forbidden" {
		t.Fatalf("err = %v", err)
	}
}

func TestNewNeedsACertificate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := ServiceAccount
	ServiceAccount = dir
	defer func() { ServiceAccount = old }()
	if _, err := New("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "no certificate") {
		t.Fatalf("err = %v", err)
	}
}
