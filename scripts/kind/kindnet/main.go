// Command kindnet is the kind node image's CNI daemon (kind's default CNI is its kindnetd,
// whose module is not served by the Go module proxy). One pod per node (a DaemonSet, host
// network) keeps the node's pod network in step with the Nodes of the cluster:
//
//   - writes the node's CNI config: Debian's bridge + host-local plugins with the node's
//     podCIDR (assigned by kube-controller-manager), portmap for hostPorts;
//   - routes every other node's podCIDR via that node's InternalIP (all nodes share one
//     Docker network, so one hop), and removes the routes of nodes that are gone;
//   - masquerades pod traffic that leaves the cluster's pod subnet (to the Docker host),
//     so replies find their way back.
//
// It reads the Nodes from the API with its service account every few seconds; `ip` and
// `iptables` come from its image (Debian). Environment: NODE_NAME, POD_SUBNET,
// CONTROL_PLANE_ENDPOINT (host:port; kind adds it), CNI_CONFIG (the file to write).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"sre-platform.dev/kind/incluster"
)

const (
	masqueradeChain = "SRE-KINDNET-MASQ"
	syncInterval    = 5 * time.Second
)

// version is stamped by fixtures/kind (-ldflags -X main.version=...).
var version = "dev"

type node struct {
	Name     string
	PodCIDRs []string
	Address  string // InternalIP (IPv4)
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	self := mustEnv("NODE_NAME")
	podSubnet := mustEnv("POD_SUBNET")
	cniConfig := envOr("CNI_CONFIG", "/etc/cni/net.d/10-kindnet.conflist")
	endpoint := os.Getenv("CONTROL_PLANE_ENDPOINT")
	if endpoint == "" {
		endpoint = net.JoinHostPort(mustEnv("KUBERNETES_SERVICE_HOST"), mustEnv("KUBERNETES_SERVICE_PORT"))
	}
	client, err := incluster.New(endpoint)
	if err != nil {
		log.Fatalf("kindnet: %v", err)
	}
	log.Printf("kindnet %s on %s: pod subnet %s, API %s", version, self, podSubnet, endpoint)
	routes := map[string]string{} // podCIDR -> gateway, as installed by this process
	for {
		if err := sync(client, self, podSubnet, cniConfig, routes); err != nil {
			log.Printf("kindnet: %v", err)
		}
		time.Sleep(syncInterval)
	}
}

func sync(c *incluster.Client, self, podSubnet, cniConfig string, routes map[string]string) error {
	nodes, err := listNodes(c)
	if err != nil {
		return err
	}
	wanted := map[string]string{}
	var own *node
	for i := range nodes {
		n := &nodes[i]
		if n.Name == self {
			own = n
			continue
		}
		if n.Address == "" {
			continue
		}
		for _, cidr := range n.PodCIDRs {
			if isIPv4CIDR(cidr) {
				wanted[cidr] = n.Address
			}
		}
	}
	if own == nil || len(own.PodCIDRs) == 0 {
		return fmt.Errorf("node %s has no podCIDR yet", self)
	}
	ownCIDR := ""
	for _, cidr := range own.PodCIDRs {
		if isIPv4CIDR(cidr) {
			ownCIDR = cidr
		}
	}
	if ownCIDR == "" {
		return fmt.Errorf("node %s has no IPv4 podCIDR (%v)", self, own.PodCIDRs)
	}
	if err := ensureMasquerade(ownCIDR, podSubnet); err != nil {
		return err
	}
	for cidr, gateway := range wanted {
		if routes[cidr] == gateway {
			continue
		}
		if err := run("ip", "route", "replace", cidr, "via", gateway); err != nil {
			return err
		}
		log.Printf("route %s via %s", cidr, gateway)
		routes[cidr] = gateway
	}
	for cidr := range routes {
		if _, keep := wanted[cidr]; !keep {
			if err := run("ip", "route", "del", cidr); err != nil {
				log.Printf("kindnet: %v", err)
			}
			log.Printf("route %s removed (its node is gone)", cidr)
			delete(routes, cidr)
		}
	}
	return writeIfChanged(cniConfig, cniConflist(ownCIDR))
}

// cniConflist: Debian's containernetworking-plugins, the same plugins as the lab's real node.
func cniConflist(podCIDR string) []byte {
	config := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "kindnet",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      "kindnet0",
				"isGateway":   true,
				"hairpinMode": true,  // a pod reaches itself through its Service
				"ipMasq":      false, // done once per node for the whole pod subnet
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": podCIDR}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	out, _ := json.MarshalIndent(config, "", "  ")
	return append(out, '\n')
}

// ensureMasquerade: pod traffic from this node to anywhere outside the pod subnet leaves
// with the node's address (the Docker host has no route back to pod addresses).
func ensureMasquerade(ownCIDR, podSubnet string) error {
	if exec.Command("iptables", "-t", "nat", "-S", masqueradeChain).Run() != nil {
		if err := run("iptables", "-t", "nat", "-N", masqueradeChain); err != nil {
			return err
		}
	}
	rules := [][]string{
		{"-t", "nat", "-A", masqueradeChain, "-d", podSubnet, "-j", "RETURN"},
		{"-t", "nat", "-A", masqueradeChain, "-j", "MASQUERADE"},
		{"-t", "nat", "-A", "POSTROUTING", "-s", ownCIDR, "-j", masqueradeChain},
	}
	for _, rule := range rules {
		check := append([]string{}, rule...)
		check[2] = "-C"
		if exec.Command("iptables", check...).Run() == nil {
			continue
		}
		if err := run("iptables", rule...); err != nil {
			return err
		}
	}
	return nil
}

func writeIfChanged(path string, content []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, 0o644); err != nil {
		return err
	}
	log.Printf("wrote %s", path)
	return os.Rename(tmp, path)
}

// ---- the API ------------------------------------------------------------------------

// listNodes reads the cluster's Nodes.
func listNodes(c *incluster.Client) ([]node, error) {
	body, err := c.Get("/api/v1/nodes")
	if err != nil {
		return nil, err
	}
	return parseNodes(body)
}

func parseNodes(body []byte) ([]node, error) {
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				PodCIDR  string   `json:"podCIDR"`
				PodCIDRs []string `json:"podCIDRs"`
			} `json:"spec"`
			Status struct {
				Addresses []struct {
					Type    string `json:"type"`
					Address string `json:"address"`
				} `json:"addresses"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("the node list: %w", err)
	}
	nodes := make([]node, 0, len(list.Items))
	for _, item := range list.Items {
		n := node{Name: item.Metadata.Name, PodCIDRs: item.Spec.PodCIDRs}
		if len(n.PodCIDRs) == 0 && item.Spec.PodCIDR != "" {
			n.PodCIDRs = []string{item.Spec.PodCIDR}
		}
		for _, a := range item.Status.Addresses {
			if a.Type == "InternalIP" && net.ParseIP(a.Address).To4() != nil {
				n.Address = a.Address
			}
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes, nil
}

// ---- helpers ------------------------------------------------------------------------

func isIPv4CIDR(cidr string) bool {
	ip, _, err := net.ParseCIDR(cidr)
	return err == nil && ip.To4() != nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func mustEnv(name string) string {
	value := os.Getenv(name)
	if value == "" {
		log.Fatalf("kindnet: $%s is not set", name)
	}
	return value
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
