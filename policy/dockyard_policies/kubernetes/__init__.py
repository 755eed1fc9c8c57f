"""Kubernetes rules, by subject: workloads (type tokens, reading a pod template), pod_security (the
`restricted` standard), containers (what each container declares), cluster (the objects around the pods)."""
