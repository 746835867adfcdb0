// The Vault server entry point, as in github.com/hashicorp/vault's main.go: the module's root
// package only calls command.Run, so this module requires the release pinned in go.mod and
// builds the same binary (see ../../src/vault-binary.ts).
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
