// The kube-apiserver entry point, as in k8s.io/kubernetes/cmd/kube-apiserver/apiserver.go.
// It lives here because a module can only build a main package that it owns or depends on,
// and depending on it through this file keeps `go mod tidy` from dropping k8s.io/kubernetes.
package main

import (
	"os"
	_ "time/tzdata" // time zones for CronJob validation, as upstream

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	command := app.NewAPIServerCommand()
	code := cli.Run(command)
	os.Exit(code)
}
