# Sourced by machine/toolchain/pulumi-tools.sh and machine/local_cluster/cluster-tools.sh: Go modules, through `go` only.

# A module's directory in the module cache, downloaded when missing.
module_dir() { go mod download -json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'; }

# A writable copy of a module (modules with `replace` directives cannot be `go install`ed).
copy_module() {  # copy_module MODULE@VERSION DIR
    mkdir -p "$2"
    cp -r "$(module_dir "$1")/." "$2"
    chmod -R u+w "$2"
}
