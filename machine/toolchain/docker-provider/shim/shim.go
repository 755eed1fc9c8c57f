// Package shim lives under the upstream's module path because only packages inside
// github.com/terraform-providers/terraform-provider-docker may import its internal/provider.
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	"github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream's SDKv2 provider (Container, Image, Network, Volume, ...);
// its plugin-framework half (compose, actions, two data sources) is not bridged, as in pulumi-docker.
func NewProvider(version string) *schema.Provider { return provider.New(version)() }
