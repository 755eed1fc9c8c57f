"""Patch pulumi-terraform-bridge (v3.135.0, for random 4.21.1) to build without pulumi-dotnet,
whose module the Go proxy refuses, and against pulumi pkg v3.274.1 (build.sh calls it).

tfgen's schema generator fills the schema's `csharp` language entries from three structs of
pulumi-dotnet's codegen package, only to marshal them to JSON. They become `map[string]any`
literals with the same keys (lowerCamel field names, as those structs' json tags spell them).
Only tfgen's schema *generation* uses them: the random plugin embeds its released schema and
never generates one, so what it serves does not depend on this (tests/real checks it).

pkg v3.274's `plugin.NewContext` takes one more argument than the v3.253 the bridge was made for
(`cloudCredentialEnv`, last): its two calls (tfgen, HCL eject) pass nil, "none", as they do for
the other optional ones.

Every replacement must match, so a different bridge fails here, loudly.
Usage: python3 patch_bridge.py BRIDGE_DIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

GENERATOR = "pkg/tfgen/generate_schema.go"
IMPORT = '\tcsgen "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3/codegen"\n'
TYPES = ("CSharpPackageInfo", "CSharpPropertyInfo", "CSharpResourceInfo")
FIELD = re.compile(r"^(\s*)([A-Z]\w*):(\s*)(.+,)$")
CLOSING = re.compile(r"^\s*\}", re.M)


def as_map(text: str, type_name: str) -> str:
    """Each `[&]csgen.TYPE{ Field: value, ... }` literal as `map[string]any{ "field": value, ... }`
    (one field a line, up to the line holding only the closing brace)."""
    opening = re.compile(r"&?csgen\." + type_name + r"\{\n")
    found = opening.search(text)
    if not found:
        sys.exit(f"patch_bridge.py: {GENERATOR}: no csgen.{type_name} literal")
    while found:
        body_end = CLOSING.search(text, found.end()).start()
        rewritten = []
        for line in text[found.end() : body_end].split("\n"):
            field = FIELD.match(line)
            if field is None:
                if line.strip():
                    sys.exit(f"patch_bridge.py: unexpected line in csgen.{type_name}: {line!r}")
                rewritten.append(line)
                continue
            indent, name, _, value = field.groups()
            rewritten.append(f'{indent}"{name[0].lower() + name[1:]}": {value}')
        text = text[: found.start()] + "map[string]any{\n" + "\n".join(rewritten) + text[body_end:]
        found = opening.search(text)
    return text


NEW_CONTEXT_CALLS = {
    "pkg/tfgen/generate.go": ("ctx, sink, sink, pluginHost, nil, cwd, nil, false, nil,\n",
                              "ctx, sink, sink, pluginHost, nil, cwd, nil, false, nil, nil,\n"),
    "pkg/tf2pulumi/convert/eject.go": ("plugin.NewContext(ctx, nil, nil, pluginHost, nil, cwd, nil, false, nil)",
                                       "plugin.NewContext(ctx, nil, nil, pluginHost, nil, cwd, nil, false, nil, nil)"),
}


def main(bridge: Path) -> None:
    for relative, (before, after) in NEW_CONTEXT_CALLS.items():
        path = bridge / relative
        text = path.read_text()
        if text.count(before) != 1:
            sys.exit(f"patch_bridge.py: {path}: the plugin.NewContext call is not there once")
        path.write_text(text.replace(before, after))
    path = bridge / GENERATOR
    text = path.read_text()
    if text.count(IMPORT) != 1:
        sys.exit(f"patch_bridge.py: {path}: the pulumi-dotnet import is not there once")
    text = text.replace(IMPORT, "")
    for type_name in TYPES:
        text = as_map(text, type_name)
    if "csgen." in text:
        sys.exit(f"patch_bridge.py: {path}: csgen still used after patching")
    path.write_text(text)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    main(Path(sys.argv[1]))
