// CoreDNS for the one-node cluster: coremain as in github.com/coredns/coredns/coredns.go, with
// only the plugins the cluster's Corefile uses (the full set pulls in cloud SDKs that take many
// minutes to compile and are never used here). Plugins register themselves in init().
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
