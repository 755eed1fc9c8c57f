"""What the workflows run besides `make`: the dependency-audit gate, release versions and tags, and
the deployment notification (.github/workflows; tested in tests/workflows)."""
