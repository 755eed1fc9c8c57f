// Command etcd is etcd's own server entry point, built from its Go module: no release binary
// can be downloaded here and Debian 12's etcd-server (3.4) is older than Kubernetes 1.37 uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
