// Package provider maps the Terraform docker provider (kreuzwerker/terraform-provider-docker)
// onto pulumi-docker 5.2.0's tokens and field names, as pulumi-docker's provider/resources.go
// does, so programs written against the pulumi_docker SDK run on this bridged plugin.
package provider

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is stamped by build.sh (-X); it is the pulumi-docker release whose SDK the program pins.
var Version = "5.2.0"

// Written by tfgen next to schema.json (build.sh starts from an empty file, as a fresh
// bridged provider does).
//
//go:embed cmd/pulumi-resource-docker/bridge-metadata.json
var bridgeMetadata []byte

// Provider is pulumi-docker's ProviderInfo, less what only its own SDK generation and its native
// (non-bridged) Image resource need.
func Provider() tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider(Version)),
		Name:         "docker",
		Version:      Version,
		Description:  "A Pulumi package for interacting with Docker in Pulumi programs",
		Keywords:     []string{"pulumi", "docker"},
		License:      "Apache-2.0",
		Homepage:     "https://pulumi.io",
		Repository:   "https://github.com/pulumi/pulumi-docker",
		MetadataInfo: tfbridge.NewProviderMetadata(bridgeMetadata),
		Config: map[string]*tfbridge.SchemaInfo{
			// As in 5.2.0: DOCKER_HOST, else the upstream's own default (unix:///var/run/docker.sock).
			"host":          {Default: &tfbridge.DefaultInfo{EnvVars: []string{"DOCKER_HOST"}}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()}, // a list, not plural
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_config": {Tok: tfbridge.MakeResource("docker", "index", "ServiceConfig")},
			"docker_container": {
				Tok:                 tfbridge.MakeResource("docker", "index", "Container"),
				DeleteBeforeReplace: true, // the container name is unique on the engine
				Fields: map[string]*tfbridge.SchemaInfo{
					"command":           {Name: "command"}, // one command, not pluralized
					"networks_advanced": {Name: "networksAdvanced"},
				},
			},
			"docker_image": {
				Tok:    tfbridge.MakeResource("docker", "index", "RemoteImage"),
				Fields: map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}, // no auto-naming
			},
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image": {Tok: tfbridge.MakeDataSource("docker", "index", "getRemoteImage")},
		},
	}
	// The rest (Network, Volume, Secret, Service, Plugin, Tag, BuildxBuilder, get*) take the
	// standard tokens, as pulumi-docker's x.ComputeDefaults(TokensSingleModule) gives them.
	prov.MustComputeTokens(tokens.SingleModule("docker_", "index", tokens.MakeStandard("docker")))
	prov.SetAutonaming(255, "-")
	return prov
}
