// Command runc-wrapper runs runc with OCI specs trimmed to the capabilities this host can
// grant. Some VMs start every process without CAP_SYS_RESOURCE in the capability bounding
// set; `docker run --privileged` (every kind node) and containerd's privileged pods still
// ask runc for every capability, and runc then fails with "unable to apply caps: operation
// not permitted". Registered as the container engine's runtime only where a capability is
// missing (fixtures/kind/docker.py for dockerd; the kind node image's entry point for
// containerd inside a node), it removes from the spec every capability whose bit is clear
// in its own bounding set, then execs the real runc with the same arguments:
//
//	create / run:  the bundle's config.json (--bundle/-b, else the working directory)
//	exec:          the --process/-p file
//
// Everything else passes through untouched. The real runc is the first `runc` on PATH that
// is not this binary (or $SRE_REAL_RUNC).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// version is stamped by fixtures/kind (-ldflags -X main.version=...).
var version = "dev"

// capNames are the kernel's capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// globalWithValue are runc's global options that take a value (runc --help).
var globalWithValue = map[string]bool{
	"--root": true, "--log": true, "--log-format": true, "--criu": true, "--rootless": true,
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--wrapper-version" {
		fmt.Printf("runc-wrapper (sre-platform) %s\n", version)
		return
	}
	missing, err := missingCapabilities("/proc/self/status")
	if err != nil {
		fail(err)
	}
	if len(os.Args) == 2 && os.Args[1] == "--missing" {
		fmt.Println(strings.Join(missing, " "))
		return
	}
	if len(missing) > 0 {
		if file := specFile(os.Args[1:]); file != "" {
			if err := trimSpec(file, missing); err != nil {
				fail(err)
			}
		}
	}
	runc, err := realRunc()
	if err != nil {
		fail(err)
	}
	argv := append([]string{runc}, os.Args[1:]...)
	fail(syscall.Exec(runc, argv, os.Environ()))
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "runc-wrapper: %v\n", err)
	os.Exit(1)
}

// missingCapabilities: the names of the known capabilities absent from the bounding set.
func missingCapabilities(status string) ([]string, error) {
	f, err := os.Open(status)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		value, found := strings.CutPrefix(scanner.Text(), "CapBnd:")
		if !found {
			continue
		}
		bits, err := strconv.ParseUint(strings.TrimSpace(value), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: CapBnd %q: %w", status, value, err)
		}
		last := lastCap(len(capNames) - 1)
		var missing []string
		for n := 0; n <= last && n < len(capNames); n++ {
			if bits&(1<<uint(n)) == 0 {
				missing = append(missing, capNames[n])
			}
		}
		return missing, nil
	}
	return nil, fmt.Errorf("%s has no CapBnd line", status)
}

// lastCap: the highest capability this kernel knows (older kernels know fewer).
func lastCap(fallback int) int {
	raw, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return fallback
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return fallback
	}
	return n
}

// specFile: the file runc will read capabilities from for this command line, or "".
func specFile(args []string) string {
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		name, _, inline := strings.Cut(args[i], "=")
		if globalWithValue[name] && !inline {
			i++
		}
		i++
	}
	if i >= len(args) {
		return ""
	}
	command, rest := args[i], args[i+1:]
	switch command {
	case "create", "run":
		if bundle := optionValue(rest, "--bundle", "-b"); bundle != "" {
			return filepath.Join(bundle, "config.json")
		}
		return "config.json" // runc's default bundle is the working directory
	case "exec":
		return optionValue(rest, "--process", "-p")
	}
	return ""
}

func optionValue(args []string, long, short string) string {
	for i, arg := range args {
		if arg == "--" {
			return ""
		}
		for _, name := range []string{long, short} {
			if arg == name && i+1 < len(args) {
				return args[i+1]
			}
			if value, found := strings.CutPrefix(arg, name+"="); found {
				return value
			}
		}
	}
	return ""
}

// trimSpec removes the missing capabilities from every set of the file's process (a
// bundle's config.json holds it under "process"; an exec --process file is the process).
func trimSpec(file string, missing []string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // runc reports a missing spec itself
		}
		return err
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	process := spec
	if p, ok := spec["process"].(map[string]any); ok {
		process = p
	}
	caps, ok := process["capabilities"].(map[string]any)
	if !ok || !removeCapabilities(caps, missing) {
		return nil
	}
	out, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	info, err := os.Stat(file)
	if err != nil {
		return err
	}
	tmp := file + ".runc-wrapper"
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// removeCapabilities edits every capability list in place; true when something changed.
func removeCapabilities(caps map[string]any, missing []string) bool {
	drop := map[string]bool{}
	for _, name := range missing {
		drop[name] = true
	}
	changed := false
	for set, value := range caps {
		list, ok := value.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, ok := c.(string); ok && drop[name] {
				changed = true
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	return changed
}

// realRunc: $SRE_REAL_RUNC, else the first runc on PATH that is not this program.
func realRunc() (string, error) {
	if explicit := os.Getenv("SRE_REAL_RUNC"); explicit != "" {
		return explicit, nil
	}
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		return "", err
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	for _, dir := range filepath.SplitList(path) {
		candidate := filepath.Join(dir, "runc")
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() || info.Mode().Perm()&0o111 == 0 || os.SameFile(info, self) {
			continue
		}
		return candidate, nil
	}
	return "", fmt.Errorf("no runc on PATH (%s) besides this wrapper", path)
}
