package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseNodes(t *testing.T) {
	body := []byte(`{"items": [
	  {"metadata": {"name": "w2"}, "spec": {"podCIDR": "10.251.2.0/24"},
	   "status": {"addresses": [{"type": "Hostname", "address": "w2"}, {"type": "InternalIP", "address": "10.250.0.4"}]}},
	  {"metadata": {"name": "cp"}, "spec": {"podCIDRs": ["10.251.0.0/24", "fd00::/64"]},
	   "status": {"addresses": [{"type": "InternalIP", "address": "fc00::2"}, {"type": "InternalIP", "address": "10.250.0.2"}]}},
	  {"metadata": {"name": "new"}, "spec": {}, "status": {}}
	]}`)
	nodes, err := parseNodes(body)
	if err != nil {
		t.Fatal(err)
	}
	want := []node{
		{Name: "cp", PodCIDRs: []string{"10.251.0.0/24", "fd00::/64"}, Address: "10.250.0.2"},
		{Name: "new"},
		{Name: "w2", PodCIDRs: []string{"10.251.2.0/24"}, Address: "10.250.0.4"},
	}
	if !reflect.DeepEqual(nodes, want) {
		t.Errorf("parseNodes = %+v\nwant %+v", nodes, want)
	}
}

func TestCNIConflistUsesTheNodesPodCIDR(t *testing.T) {
	var config struct {
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(cniConflist("10.251.3.0/24"), &config); err != nil {
		t.Fatal(err)
	}
	bridge := config.Plugins[0]
	if bridge["type"] != "bridge" || bridge["isGateway"] != true || bridge["ipMasq"] != false {
		t.Errorf("bridge plugin: %v", bridge)
	}
	ranges := bridge["ipam"].(map[string]any)["ranges"].([]any)
	subnet := ranges[0].([]any)[0].(map[string]any)["subnet"]
	if subnet != "10.251.3.0/24" {
		t.Errorf("subnet = %v", subnet)
	}
	if config.Plugins[1]["type"] != "portmap" {
		t.Errorf("second plugin: %v", config.Plugins[1])
	}
}

func TestIsIPv4CIDR(t *testing.T) {
	for cidr, want := range map[string]bool{"10.251.0.0/24": true, "fd00::/64": false, "x": false} {
		if isIPv4CIDR(cidr) != want {
			t.Errorf("isIPv4CIDR(%q) != %v", cidr, want)
		}
	}
}
