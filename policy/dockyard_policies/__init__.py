"""dockyard's policy rules: pure checks per domain (kubernetes, docker, builds) and the pack
that adapts them to pulumi_policy (pack.build_policies)."""
