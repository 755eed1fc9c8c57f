"""Patch pulumi-docker-build v0.0.22 and pulumi-go-provider v1.3.2 to build against pulumi
pkg/sdk v3.274.1 without the modules the Go proxy refuses (build.sh calls it).

- docker-build's provider.go imports pulumi-dotnet and pulumi-java only for two entries of
  the schema's `language` map: they become plain maps that marshal to the same JSON (keys
  sorted, as Go marshals a map, which is the order the released schema.json has).
- pulumi-go-provider: pkg v3.274's PackageSpec takes the provider resource by pointer (as
  upstream changed in pulumi-go-provider v1.4.0).

Every replacement must match exactly once, so a different upstream fails here, loudly.
Usage: python3 patch_docker_build.py DOCKER_BUILD_DIR GO_PROVIDER_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

CSHARP_BEFORE = """\
					"csharp": csgen.CSharpPackageInfo{
						RespectSchemaVersion: true,
						PackageReferences: map[string]string{
							"Pulumi": "3.*",
						},
					},
"""
CSHARP_AFTER = """\
					"csharp": map[string]any{
						"respectSchemaVersion": true,
						"packageReferences":    map[string]any{"Pulumi": "3.*"},
					},
"""
JAVA_BEFORE = """\
					"java": java.PackageInfo{
						BuildFiles:                      "gradle",
						GradleNexusPublishPluginVersion: "1.1.0",
						Dependencies: map[string]string{
							"com.pulumi:pulumi":               "0.20.0",
							"com.google.code.gson:gson":       "2.8.9",
							"com.google.code.findbugs:jsr305": "3.0.2",
						},
					},
"""
# java.PackageInfo also marshals its empty basePackage and gradleTest fields.
JAVA_AFTER = """\
					"java": map[string]any{
						"basePackage":                     "",
						"buildFiles":                      "gradle",
						"gradleNexusPublishPluginVersion": "1.1.0",
						"gradleTest":                      "",
						"dependencies": map[string]any{
							"com.pulumi:pulumi":               "0.20.0",
							"com.google.code.gson:gson":       "2.8.9",
							"com.google.code.findbugs:jsr305": "3.0.2",
						},
					},
"""
IMPORTS_DROPPED = (
    '\tcsgen "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3/codegen"\n',
    '\t"github.com/pulumi/pulumi-java/pkg/codegen/java"\n',
)


def replace_once(path: Path, before: str, after: str) -> None:
    text = path.read_text()
    count = text.count(before)
    if count != 1:
        sys.exit(f"patch_docker_build.py: {path}: expected one {before.strip()[:60]!r}, found {count}")
    path.write_text(text.replace(before, after))


def main(docker_build: Path, go_provider: Path) -> None:
    provider_go = docker_build / "provider/internal/provider.go"
    replace_once(provider_go, CSHARP_BEFORE, CSHARP_AFTER)
    replace_once(provider_go, JAVA_BEFORE, JAVA_AFTER)
    for line in IMPORTS_DROPPED:
        replace_once(provider_go, line, "")
    replace_once(go_provider / "middleware/schema/schema.go", "\t\tpkg.Provider = prov\n", "\t\tpkg.Provider = &prov\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(Path(sys.argv[1]), Path(sys.argv[2]))
