package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestSpecFile(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		// containerd-shim-runc-v2 and dockerd's command lines
		{[]string{"--root", "/run/r", "--log", "/l.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/p", "id"}, "/b/config.json"},
		{[]string{"--root=/run/r", "--systemd-cgroup", "run", "-b", "/b", "id"}, "/b/config.json"},
		{[]string{"create", "--bundle=/b", "id"}, "/b/config.json"},
		{[]string{"create", "id"}, "config.json"}, // runc's default bundle: the working directory
		{[]string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json"},
		{[]string{"exec", "-p=/tmp/p.json", "id"}, "/tmp/p.json"},
		{[]string{"exec", "id", "sh"}, ""},
		{[]string{"--root", "/r", "state", "id"}, ""},
		{[]string{"--root", "create"}, ""}, // "create" is --root's value, not the command
		{[]string{"--version"}, ""},
	}
	for _, c := range cases {
		if got := specFile(c.args); got != c.want {
			t.Errorf("specFile(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestTrimSpecRemovesOnlyTheMissingCapabilities(t *testing.T) {
	dir := t.TempDir()
	all := []any{"CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_ADMIN"}
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"args": []any{"/sbin/init"},
			"capabilities": map[string]any{
				"bounding": all, "effective": all, "permitted": all, "inheritable": all,
				"ambient": []any{"CAP_SYS_RESOURCE"},
			},
		},
	}
	file := filepath.Join(dir, "config.json")
	write(t, file, spec)
	if err := trimSpec(file, []string{"CAP_SYS_RESOURCE"}); err != nil {
		t.Fatal(err)
	}
	caps := read(t, file)["process"].(map[string]any)["capabilities"].(map[string]any)
	for _, set := range []string{"bounding", "effective", "permitted", "inheritable"} {
		want := []any{"CAP_CHOWN", "CAP_NET_ADMIN"}
		if !reflect.DeepEqual(caps[set], want) {
			t.Errorf("%s = %v, want %v", set, caps[set], want)
		}
	}
	if got := caps["ambient"]; !reflect.DeepEqual(got, []any{}) {
		t.Errorf("ambient = %v, want []", got)
	}
	if args := read(t, file)["process"].(map[string]any)["args"]; !reflect.DeepEqual(args, []any{"/sbin/init"}) {
		t.Errorf("the rest of the spec changed: args = %v", args)
	}
}

func TestTrimSpecOfAnExecProcessFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "process.json")
	write(t, file, map[string]any{"args": []any{"sh"}, "capabilities": map[string]any{
		"bounding": []any{"CAP_SYS_RESOURCE", "CAP_KILL"},
	}})
	if err := trimSpec(file, []string{"CAP_SYS_RESOURCE"}); err != nil {
		t.Fatal(err)
	}
	got := read(t, file)["capabilities"].(map[string]any)["bounding"]
	if !reflect.DeepEqual(got, []any{"CAP_KILL"}) {
		t.Errorf("bounding = %v", got)
	}
}

func TestTrimSpecLeavesAFittingSpecUntouched(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.json")
	original := []byte(`{"process": {"capabilities": {"bounding": ["CAP_KILL"]}},   "x": 1}`)
	if err := os.WriteFile(file, original, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := trimSpec(file, []string{"CAP_SYS_RESOURCE"}); err != nil {
		t.Fatal(err)
	}
	if now, _ := os.ReadFile(file); string(now) != string(original) {
		t.Errorf("rewritten although nothing was missing: %s", now)
	}
}

func TestMissingCapabilities(t *testing.T) {
	status := filepath.Join(t.TempDir(), "status")
	// bit 24 (CAP_SYS_RESOURCE) clear, as on the VMs this wrapper exists for
	if err := os.WriteFile(status, []byte("Name:\tx\nCapBnd:\t000001fffeffffff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := missingCapabilities(status)
	if err != nil {
		t.Fatal(err)
	}
	if last := lastCap(40); last >= 40 && !reflect.DeepEqual(got, []string{"CAP_SYS_RESOURCE"}) {
		t.Errorf("missing = %v, want [CAP_SYS_RESOURCE]", got)
	}
}

func write(t *testing.T, file string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
