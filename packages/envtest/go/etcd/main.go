// The etcd entry point, as in go.etcd.io/etcd/v3's main.go: the root module only wraps
// etcdmain, and building from the server module avoids its etcdctl/etcdutl dependencies.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
