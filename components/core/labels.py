"""The label and annotation keys dockyard writes on what it creates (Docker objects, Kubernetes
objects), defined once: `make down purge=1`, the tests and the policy pack read them back."""

STACK_LABEL = "dockyard.dev/stack"  # the Pulumi stack an object belongs to
OPT_OUT_PREFIX = "opt-out.dockyard.dev/"  # + the opt-out's name; the value is its reason
# On Docker containers: the catalog service it runs, and "true" on a run-to-completion one.
SERVICE_LABEL = "dockyard.dev/service"
ONE_SHOT_LABEL = "dockyard.dev/one-shot"
CONFIG_DIGEST_LABEL = "dockyard.dev/config-sha256"  # on the monitoring service: a new config replaces it
CONFIG_WRITER_LABEL = "dockyard.dev/config-writer"  # "true" on the container that writes it (never started)
# On Kubernetes pods: the stack a promoted digest came from, the image a rollout runs.
PROMOTED_FROM_ANNOTATION = "dockyard.dev/promoted-from"
IMAGE_REVISION_ANNOTATION = "dockyard.dev/image-id"
PART_OF = "dockyard"
PART_OF_LABEL = "app.kubernetes.io/part-of"
NAME_LABEL = "app.kubernetes.io/name"
# Annotation-based scraping (the convention of Prometheus' kubernetes_sd examples and the
# prometheus-community chart): written on the pods of services whose catalog entry has `metrics`.
PROMETHEUS_SCRAPE = "prometheus.io/scrape"
PROMETHEUS_PATH = "prometheus.io/path"
PROMETHEUS_PORT = "prometheus.io/port"
