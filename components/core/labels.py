"""The label and annotation keys dockyard writes on what it creates (Docker objects, Kubernetes
objects), defined once: `make down purge=1`, the tests and the policy pack read them back."""

STACK_LABEL = "dockyard.dev/stack"  # the Pulumi stack an object belongs to
OPT_OUT_PREFIX = "opt-out.dockyard.dev/"  # + the opt-out's name; the value is its reason
PART_OF = "dockyard"
PART_OF_LABEL = "app.kubernetes.io/part-of"
NAME_LABEL = "app.kubernetes.io/name"
# Annotation-based scraping (the convention of Prometheus' kubernetes_sd examples and the
# prometheus-community chart): written on the pods of services whose catalog entry has `metrics`.
PROMETHEUS_SCRAPE = "prometheus.io/scrape"
PROMETHEUS_PATH = "prometheus.io/path"
PROMETHEUS_PORT = "prometheus.io/port"
