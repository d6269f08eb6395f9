// Command pause is the infrastructure ("sandbox") container of every pod on the lab's real
// node: it holds the pod's namespaces, reaps zombies as PID 1 and exits on SIGINT/SIGTERM.
// It does what kubernetes' build/pause/linux/pause.c does, in Go, so it builds into a
// static binary with the toolchain the project already has (no C toolchain, no registry).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is stamped by fixtures/images/build.py (-ldflags -X main.version=...).
var version = "dev"

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "-v", "--version":
			fmt.Printf("pause (sre-platform) %s\n", version)
			return
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [-v]\n", os.Args[0])
			os.Exit(64)
		}
	}
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1")
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", sig)
		os.Exit(0)
	}
}

// reap collects every exited child (processes re-parented to PID 1 in the pod's PID
// namespace), so none stays a zombie.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
