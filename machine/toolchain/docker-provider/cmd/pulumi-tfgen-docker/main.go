// pulumi-tfgen-docker writes the bridged provider's schema.json and bridge-metadata.json
// (build.sh runs `schema --skip-docs --skip-examples`; docs and example conversion are not built).
package main

import (
	provider "dockyard/docker-provider"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"
)

func main() { tfgen.Main("docker", provider.Version, provider.Provider()) }
