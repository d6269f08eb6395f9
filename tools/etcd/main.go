// Command etcd is upstream's etcd server entry point (go.etcd.io/etcd main.go), built
// from the published server module at the pinned tag.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
