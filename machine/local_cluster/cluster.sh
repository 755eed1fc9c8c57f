#!/usr/bin/env bash
# A local Kubernetes cluster for staging and prod (and dev's Minikube path): etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler v1.37.2, and one real node whose
# pods run: kubelet and kube-proxy v1.37.2 on containerd 1.7 (a second instance of the one
# Docker's packages bring, CRI on), runc and Debian's CNI plugins, with CoreDNS and
# metrics-server as its add-ons. Built by machine/local_cluster/cluster-tools.sh.
#
# The node lives in a network namespace of its own (`dockyard-node`), joined to the host by a
# veth pair (host 10.250.0.1, node 10.250.0.2): kubelet, the CNI plugins and kube-proxy write
# iptables rules, and there they never touch the host's (Docker's). The API server listens on
# the host's end of that pair only; the host reaches Service and pod addresses through routes
# to the node. Nothing listens on, or is sent to, any other address.
#
# Usage: machine/local_cluster/cluster.sh start        start what is not running; wait for /readyz and the node
#        machine/local_cluster/cluster.sh stop         stop everything (clients first, then apiserver, then etcd)
#        machine/local_cluster/cluster.sh status       each process, and /readyz; exit 1 unless all is up
#        machine/local_cluster/cluster.sh kubeconfig   print the kubeconfig's path (for KUBECONFIG)
#        machine/local_cluster/cluster.sh address      print the host's address on the node's link (what pods
#                                                   reach the host at: the API server, the registry forwarder)
#        machine/local_cluster/cluster.sh load IMAGE... copy images from the Docker engine into the node
#                                                   (what `minikube image load` does)
#        machine/local_cluster/cluster.sh sync-images PREFIX  load each image the engine tags under PREFIX
#                                                   as it appears, until stopped (Minikube's docker-env)
#        machine/local_cluster/cluster.sh purge        stop, then delete the state (certificates, etcd data,
#                                                   the node's images and volumes)
# Env:   DOCKYARD_CLUSTER_DIR         state, logs, pid files, kubeconfig (default
#                                     /var/lib/dockyard/cluster as root, else ~/.local/state/dockyard/cluster)
#        DOCKYARD_CLUSTER_API_PORT    kube-apiserver's port on 10.250.0.1, the host's end of the node's link (26443)
#        DOCKYARD_CLUSTER_ETCD_PORT   etcd's client port on 127.0.0.1 (22379; its peer port is the next one)
#        DOCKYARD_CLUSTER_CONTEXTS    the kubeconfig's contexts besides dockyard-local (default: every
#                                     kubernetes.context the Pulumi.<stack>.yaml files name)
#        DOCKYARD_TOOLS               where machine/local_cluster/cluster-tools.sh caches its builds
#
# What stands in for a cloud:
# - Storage: the default StorageClass `standard` is served by a watch loop
#   (`volume-provisioner`, machine/local_cluster/node.sh): each claim binds at once to a `local`
#   PersistentVolume, a directory under the state's node/volumes/, deleted with its claim.
# - Ingress: no proxy runs. A watch loop (`ingress-status`, below) plays the ingress
#   controller's status half: every Ingress of the IngressClass `nginx` (the default class) and
#   every LoadBalancer Service gets `status.loadBalancer.ingress: [{ip: 127.0.0.1}]`, which is
#   what the Kubernetes provider's await waits for.
# - Images: the node pulls from the loopback registry (127.0.0.1:5000, plain http) under the
#   same names: a forwarder on 10.250.0.1:5000 and containerd's hosts.toml bridge the namespace.
#   Node images (pause, CoreDNS, metrics-server) are imported from machine/local_cluster/node_images.py.
# - DNS: CoreDNS answers for cluster.local only (no upstream resolver is reachable from pods).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELF="$HERE/cluster.sh"
# The ingress-status loop is this script run again, told its cluster's state directory.
if [[ ${1:-} == _ingress-status || ${1:-} == _volume-provisioner ]]; then DOCKYARD_CLUSTER_DIR=${2%/}; fi
if [[ $(id -u) -eq 0 ]]; then default_dir=/var/lib/dockyard/cluster; else default_dir="${XDG_STATE_HOME:-$HOME/.local/state}/dockyard/cluster"; fi
STATE="${DOCKYARD_CLUSTER_DIR:-$default_dir}"
API_PORT="${DOCKYARD_CLUSTER_API_PORT:-26443}"
ETCD_PORT="${DOCKYARD_CLUSTER_ETCD_PORT:-22379}"
ETCD_PEER_PORT=$((ETCD_PORT + 1))
PKI="$STATE/pki" LOGS="$STATE/logs" RUN="$STATE/run" CONFS="$STATE/kubeconfigs"
KUBECONFIG_OUT="$STATE/kubeconfig"  # the one file tests point KUBECONFIG at
CLUSTER_NAME=dockyard-local
NODE_NAME=dockyard-node
INGRESS_CLASS=nginx  # the class every stack renders (kubernetes.ingress.className)
SERVICE_CIDR=10.96.0.0/16 POD_CIDR=10.244.0.0/16
# The state's layout; a state directory made by an older layout (the kwok node's certificates,
# the hostPath StorageClass)
# is purged at start: it is a test cluster's, and its objects would name a node that is gone.
STATE_LAYOUT=real-node-2
# The order `stop` goes in: clients before the apiserver (open watches delay its shutdown),
# the node's processes before its network, the apiserver before etcd. `start` goes the other way.
COMPONENTS=(ingress-status volume-provisioner kube-proxy kubelet containerd registry-forwarder kube-scheduler kube-controller-manager kube-apiserver etcd)
# The node: its network, containerd, kubelet, kube-proxy, add-ons, image loading.
# shellcheck source=machine/local_cluster/node.sh
source "$HERE/node.sh"

say() { echo "machine/local_cluster/cluster.sh: $*" >&2; }
die() { say "$*"; exit 1; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }

# --- tools -----------------------------------------------------------------------------------

tools() {
    # cluster-tools.sh links the binaries cached for these versions (a second or so when warm;
    # it builds them when missing, 10-17 minutes cold: CI builds them beforehand).
    BIN=$("$HERE/cluster-tools.sh")
    local b
    for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy pause coredns metrics-server; do
        [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing (machine/local_cluster/cluster-tools.sh did not build it)"
    done
}

# kubectl as the cluster's admin; its discovery cache stays in the state directory, not ~/.kube.
kubectl() { KUBECACHEDIR="$STATE/kube-cache" "$BIN/kubectl" --kubeconfig "$CONFS/admin.conf" "$@"; }

# --- processes -------------------------------------------------------------------------------

# A component's pid if it is running: the pid file's process, still alive, and still ours (its
# command line names this state directory, so a recycled pid is never mistaken for it).
pid_of() {
    local pid
    pid=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$STATE/" || return 1
    echo "$pid"
}

# Start a component in a session of its own (stop signals its whole process group; the caller's
# terminal or test runner does not) unless it is already running.
launch() {  # launch NAME COMMAND...
    local name=$1; shift
    if pid_of "$name" >/dev/null; then return 0; fi
    printf '\n==== %s started %s\n' "$name" "$(date -Is)" >>"$LOGS/$name.log"
    # 9>&-: the start/stop lock (fd 9) must not live on in the daemons, or the next start waits forever.
    setsid "$@" </dev/null >>"$LOGS/$name.log" 2>&1 9>&- &
    echo $! >"$RUN/$name.pid"
    say "started $name (pid $!, log $LOGS/$name.log)"
}

# The process has not exited. (An exited daemon stays a zombie until init reaps it, which can
# take seconds: kill -0 would still succeed.)
alive() { [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# SIGTERM to the component's process group, SIGKILL after GRACE seconds.
halt() {  # halt NAME GRACE
    local name=$1 grace=$2 pid waited=0 started
    if ! pid=$(pid_of "$name"); then rm -f "$RUN/$name.pid"; return 0; fi
    started=$(date +%s.%N)
    kill -TERM -- "-$pid" 2>/dev/null || true
    while alive "$pid" && ((waited < grace * 10)); do sleep 0.1; waited=$((waited + 1)); done
    if alive "$pid"; then
        say "$name did not exit ${grace}s after SIGTERM: SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || true
        while alive "$pid"; do sleep 0.1; done
    fi
    # Children that outlived their leader (e.g. ingress-status's kubectl watches).
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$RUN/$name.pid"
    say "stopped $name ($(elapsed "$started")s)"
}

# Something answers on ADDRESS:PORT (bash's own connect: no tool needed).
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# --- certificates and kubeconfigs ------------------------------------------------------------

# One CA signs everything; EC P-256 keys (fast to make). Leaf certificates: 10 years, this
# cluster's state is thrown away long before.
make_pki() {
    local dir=$1
    mkdir -p "$dir"
    key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/$1.key" 2>/dev/null; }
    leaf() {  # leaf NAME SUBJECT EXTENSIONS
        key "$1"
        openssl req -new -key "$dir/$1.key" -subj "$2" -out "$dir/$1.csr"
        openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
            -CAserial "$dir/ca.srl" -days 3650 -sha256 -out "$dir/$1.crt" \
            -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n%b\n' "$3") 2>/dev/null
        rm -f "$dir/$1.csr"
    }
    key ca
    openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=$CLUSTER_NAME-ca" -days 3650 -sha256 -out "$dir/ca.crt" \
        -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
    # The apiserver's first service IP is the in-cluster `kubernetes` Service's.
    leaf apiserver "/CN=kube-apiserver" \
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:$HOST_IP,IP:127.0.0.1,IP:${SERVICE_CIDR%.0/16}.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    # etcd takes only clients with a certificate of this CA (it holds every Secret).
    leaf etcd-server "/CN=etcd" 'extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost'
    leaf apiserver-etcd-client "/CN=kube-apiserver-etcd-client" 'extendedKeyUsage=clientAuth'
    leaf admin "/O=system:masters/CN=$CLUSTER_NAME-admin" 'extendedKeyUsage=clientAuth'
    leaf controller-manager "/CN=system:kube-controller-manager" 'extendedKeyUsage=clientAuth'
    leaf scheduler "/CN=system:kube-scheduler" 'extendedKeyUsage=clientAuth'
    # The node: kubelet's client identity (the Node authorizer and NodeRestriction know it by
    # this name), its serving certificate (the apiserver and metrics-server check it against
    # the CA), kube-proxy (bound to system:node-proxier by default), and the apiserver's own
    # client identity towards kubelets (logs, exec, port-forward).
    leaf kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" 'extendedKeyUsage=clientAuth'
    leaf kubelet "/CN=$NODE_NAME" "extendedKeyUsage=serverAuth\nsubjectAltName=IP:$NODE_IP,DNS:$NODE_NAME"
    leaf kube-proxy "/CN=system:kube-proxy" 'extendedKeyUsage=clientAuth'
    leaf apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" 'extendedKeyUsage=clientAuth'
    # The aggregation layer (metrics.k8s.io): a CA of its own, so no ordinary client
    # certificate can pass as the front proxy.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$dir/front-proxy-ca.key" 2>/dev/null
    openssl req -x509 -new -key "$dir/front-proxy-ca.key" -subj "/CN=$CLUSTER_NAME-front-proxy-ca" -days 3650 -sha256 \
        -out "$dir/front-proxy-ca.crt" -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
    key front-proxy-client
    openssl req -new -key "$dir/front-proxy-client.key" -subj "/CN=front-proxy-client" -out "$dir/front-proxy-client.csr"
    openssl x509 -req -in "$dir/front-proxy-client.csr" -CA "$dir/front-proxy-ca.crt" -CAkey "$dir/front-proxy-ca.key" \
        -CAcreateserial -CAserial "$dir/front-proxy-ca.srl" -days 3650 -sha256 -out "$dir/front-proxy-client.crt" \
        -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') 2>/dev/null
    rm -f "$dir/front-proxy-client.csr"
    # Service-account tokens: signed by the apiserver, verified by it, used by the
    # controller-manager's token controller.
    key sa
    openssl pkey -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
}

ensure_pki() {
    [[ -f "$PKI/complete" ]] && return 0
    rm -rf "$PKI.partial"
    make_pki "$PKI.partial"
    echo "$STATE_LAYOUT" >"$PKI.partial/complete"
    rm -rf "$PKI"; mv "$PKI.partial" "$PKI"
    say "certificates made in $PKI"
}

# A kubeconfig whose contexts all name this cluster as USER (certificates embedded, so the
# file can be copied).
write_kubeconfig() {  # write_kubeconfig FILE CERT CONTEXT...
    local file=$1 cert=$2 context; shift 2
    rm -f "$file.partial"
    local k=("$BIN/kubectl" --kubeconfig "$file.partial")
    "${k[@]}" config set-cluster "$CLUSTER_NAME" --server "https://$HOST_IP:$API_PORT" \
        --certificate-authority "$PKI/ca.crt" --embed-certs >/dev/null
    "${k[@]}" config set-credentials "$cert" --client-certificate "$PKI/$cert.crt" \
        --client-key "$PKI/$cert.key" --embed-certs >/dev/null
    for context in "$@"; do
        "${k[@]}" config set-context "$context" --cluster "$CLUSTER_NAME" --user "$cert" >/dev/null
    done
    "${k[@]}" config use-context "$1" >/dev/null
    mv "$file.partial" "$file"  # readers never see half a file
}

# The contexts the stacks name (`kubernetes.context` in Pulumi.<stack>.yaml: dev's Minikube path,
# staging, prod), so every stack finds its context in this one kubeconfig.
stack_contexts() {
    if [[ -n "${DOCKYARD_CLUSTER_CONTEXTS:-}" ]]; then tr -s ', ' '\n' <<<"$DOCKYARD_CLUSTER_CONTEXTS"; return; fi
    awk '/^  dockyard:kubernetes:/ { in_kube = 1; next }
         in_kube && /^  [^ #]/ { in_kube = 0 }
         in_kube && /^    context:/ { gsub(/["'\'']/, "", $2); print $2 }' "$HERE"/../../Pulumi.*.yaml 2>/dev/null
}

write_kubeconfigs() {
    mkdir -p "$CONFS"
    write_kubeconfig "$CONFS/admin.conf" admin "$CLUSTER_NAME"
    write_kubeconfig "$CONFS/controller-manager.conf" controller-manager "$CLUSTER_NAME"
    write_kubeconfig "$CONFS/scheduler.conf" scheduler "$CLUSTER_NAME"
    write_kubeconfig "$CONFS/kubelet.conf" kubelet-client "$CLUSTER_NAME"
    write_kubeconfig "$CONFS/kube-proxy.conf" kube-proxy "$CLUSTER_NAME"
    local contexts
    mapfile -t contexts < <(stack_contexts | grep -v "^$CLUSTER_NAME\$" | grep . | sort -u)
    write_kubeconfig "$KUBECONFIG_OUT" admin "$CLUSTER_NAME" "${contexts[@]}"
}

# --- the components --------------------------------------------------------------------------

start_etcd() {
    launch etcd "$BIN/etcd" --name "$CLUSTER_NAME" --data-dir "$STATE/etcd" \
        --listen-client-urls "https://127.0.0.1:$ETCD_PORT" --advertise-client-urls "https://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "$CLUSTER_NAME=http://127.0.0.1:$ETCD_PEER_PORT" \
        --cert-file "$PKI/etcd-server.crt" --key-file "$PKI/etcd-server.key" \
        --client-cert-auth --trusted-ca-file "$PKI/ca.crt" --log-level warn
}

start_apiserver() {
    # --bind-address: the host's end of the node's link, the one address both the host and the
    #   node (and pods, through the `kubernetes` Service) reach; nothing else.
    # --kubelet-*: the apiserver's client certificate towards kubelet (logs, exec) and the CA
    #   kubelet's serving certificate is checked against.
    # --requestheader-*, --proxy-client-*, --enable-aggregator-routing: the aggregation layer
    #   metrics-server's API (metrics.k8s.io) is served through; the apiserver dials its pod.
    # --allow-privileged: privileged pods are refused by PodSecurity where a namespace asks
    #   for it (what the stacks rely on), not everywhere by this flag.
    # --shutdown-delay-duration=0: no load balancer to drain. --shutdown-watch-termination-
    #   grace-period=2s: on SIGTERM open watches (the controllers', kubelet's, a test's) get 2 s to
    #   drain; without it the apiserver waits 60 s (its request timeout) for them (measured:
    #   61.6 s with its clients connected, 2.6 s with this flag, 1.3 s with the clients stopped first).
    launch kube-apiserver "$BIN/kube-apiserver" \
        --bind-address="$HOST_IP" --advertise-address="$HOST_IP" --secure-port="$API_PORT" \
        --etcd-servers="https://127.0.0.1:$ETCD_PORT" --etcd-cafile="$PKI/ca.crt" \
        --etcd-certfile="$PKI/apiserver-etcd-client.crt" --etcd-keyfile="$PKI/apiserver-etcd-client.key" \
        --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --client-ca-file="$PKI/ca.crt" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
        --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
        --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
        --requestheader-extra-headers-prefix=X-Remote-Extra- \
        --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
        --enable-aggregator-routing=true \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --authorization-mode=Node,RBAC \
        --enable-admission-plugins=NodeRestriction,PodSecurity \
        --allow-privileged=true \
        --shutdown-delay-duration=0s --shutdown-watch-termination-grace-period=2s \
        --profiling=false
}

start_controller_manager() {
    # --secure-port=0 (and the scheduler's): no health port to collide with anything; their
    #   work is checked through the API instead. --leader-elect=false: one instance, and a
    #   restart does not wait for the last run's lease to expire. --flex-volume-plugin-dir: it
    #   would otherwise create /usr/libexec/kubernetes/… on the host.
    launch kube-controller-manager "$BIN/kube-controller-manager" \
        --kubeconfig="$CONFS/controller-manager.conf" --secure-port=0 --leader-elect=false \
        --use-service-account-credentials=true \
        --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
        --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --flex-volume-plugin-dir="$STATE/flexvolume" \
        --profiling=false
}

start_scheduler() {
    launch kube-scheduler "$BIN/kube-scheduler" \
        --kubeconfig="$CONFS/scheduler.conf" --secure-port=0 --leader-elect=false --profiling=false
}

start_ingress_status() {
    launch ingress-status bash "$SELF" _ingress-status "$STATE/"
}

start_volume_provisioner() {
    launch volume-provisioner bash "$SELF" _volume-provisioner "$STATE/"
}

# One line per object and per change of it, for ever: a watch the apiserver ends (after
# --min-request-timeout, ~30-60 min) is opened again.
watch_objects() {  # watch_objects RESOURCE JSONPATH
    while true; do
        kubectl get "$1" --all-namespaces --watch --output "jsonpath=$2" || true
        sleep 1
    done
}

# The status half of an ingress controller: watch Ingresses (and LoadBalancer Services) and give
# each one without an address 127.0.0.1.
ingress_status() {
    local lb='{"status":{"loadBalancer":{"ingress":[{"ip":"127.0.0.1"}]}}}' default_class
    default_class=$INGRESS_CLASS
    {
        watch_objects ingresses \
            '{.metadata.namespace}|{.metadata.name}|{.spec.ingressClassName}|{.status.loadBalancer.ingress}|{.metadata.deletionTimestamp}{"\n"}' \
            | while IFS='|' read -r ns name class address deleting; do
            [[ -z $address && -z $deleting && ${class:-$default_class} == "$INGRESS_CLASS" ]] || continue
            kubectl patch ingress "$name" -n "$ns" --subresource=status --type=merge -p "$lb" || true
        done
    } &
    watch_objects services \
        '{.metadata.namespace}|{.metadata.name}|{.spec.type}|{.status.loadBalancer.ingress}|{.metadata.deletionTimestamp}{"\n"}' \
        | while IFS='|' read -r ns name type address deleting; do
        [[ $type == LoadBalancer && -z $address && -z $deleting ]] || continue
        kubectl patch service "$name" -n "$ns" --subresource=status --type=merge -p "$lb" || true
    done
}

# The cluster's own objects: the default StorageClass, the IngressClass, the node's add-ons.
bootstrap_objects() {
    kubectl apply --server-side --field-manager=dockyard-cluster -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: $VOLUME_PROVISIONER
reclaimPolicy: Delete
volumeBindingMode: Immediate
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: $INGRESS_CLASS
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: dockyard.dev/loopback-ingress-status
EOF
    node_addons
}

# --- commands --------------------------------------------------------------------------------

wait_for() {  # wait_for SECONDS WHAT COMMAND...
    local deadline=$((SECONDS + $1)) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what: not after $1 s (logs: $LOGS)"
        sleep 0.2
    done
}

apiserver_ready() { kubectl get --raw /readyz; }
node_ready() {
    [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

# A state directory from an older layout (the kwok era) is thrown away: see STATE_LAYOUT.
purge_old_state() {
    [[ -f "$PKI/complete" ]] || return 0
    [[ $(cat "$PKI/complete") == "$STATE_LAYOUT" ]] && return 0
    say "$STATE was made by an older cluster.sh (layout $(cat "$PKI/complete"), this one makes $STATE_LAYOUT): purging it"
    cmd_stop
    rm -rf "$STATE"
    mkdir -p "$STATE" "$LOGS" "$RUN"
}

cmd_start() {
    local started name port
    started=$(date +%s.%N)
    tools
    node_requirements
    mkdir -p "$STATE" "$LOGS" "$RUN"
    chmod 700 "$STATE"  # keys, and etcd's data holds every Secret
    purge_old_state
    # A running cluster keeps the ports it started with (the kubeconfig names them).
    if pid_of kube-apiserver >/dev/null || pid_of etcd >/dev/null; then
        [[ $(cat "$RUN/ports" 2>/dev/null) == "$API_PORT $ETCD_PORT" ]] \
            || die "the cluster in $STATE runs on ports $(cat "$RUN/ports" 2>/dev/null), not $API_PORT $ETCD_PORT: stop it first"
    fi
    for port in "etcd $ETCD_PORT" "etcd $ETCD_PEER_PORT"; do
        name=${port% *}; port=${port#* }
        if ! pid_of "$name" >/dev/null && port_in_use 127.0.0.1 "$port"; then
            die "port $port on 127.0.0.1 is taken by another program: choose another with DOCKYARD_CLUSTER_ETCD_PORT"
        fi
    done
    echo "$API_PORT $ETCD_PORT" >"$RUN/ports"
    node_network_up
    if ! pid_of kube-apiserver >/dev/null && port_in_use "$HOST_IP" "$API_PORT"; then
        die "port $API_PORT on $HOST_IP is taken by another program: choose another with DOCKYARD_CLUSTER_API_PORT"
    fi
    ensure_pki
    write_kubeconfigs
    write_node_configs
    start_etcd
    start_apiserver
    start_registry_forwarder
    start_containerd
    import_node_images
    wait_for 120 "kube-apiserver /readyz" apiserver_ready
    say "kube-apiserver ready in $(elapsed "$started")s (https://$HOST_IP:$API_PORT)"
    start_controller_manager
    start_scheduler
    start_kubelet
    start_kube_proxy
    start_ingress_status
    start_volume_provisioner
    bootstrap_objects
    wait_for 120 "node $NODE_NAME Ready" node_ready
    say "node $NODE_NAME Ready in $(elapsed "$started")s"
    # The controller-manager is working once namespaces get their default ServiceAccount.
    wait_for 60 "the default ServiceAccount" kubectl get serviceaccount default --namespace default
    wait_for 180 "CoreDNS answering on $DNS_IP" dns_answers
    say "cluster ready in $(elapsed "$started")s: KUBECONFIG=$KUBECONFIG_OUT (contexts: $(kubectl --kubeconfig "$KUBECONFIG_OUT" config get-contexts -o name | tr '\n' ' '))"
}

cmd_stop() {
    local started
    started=$(date +%s.%N)
    halt ingress-status 5
    halt volume-provisioner 5
    node_stop
    halt kube-scheduler 5
    halt kube-controller-manager 5
    # On SIGTERM the apiserver drains its watches (2 s, see its flags) and then waits 10 s for
    # the deletion of its own identity lease, through itself, no longer listening: SIGKILL
    # after 4 s (it keeps no state: etcd does; the lease expires on its own).
    halt kube-apiserver 4
    halt etcd 10
    say "stopped in $(elapsed "$started")s"
}

cmd_status() {
    local name pid ok=0
    for name in "${COMPONENTS[@]}"; do
        if pid=$(pid_of "$name"); then echo "$name: running (pid $pid)"; else echo "$name: stopped"; ok=1; fi
    done
    BIN=$("$HERE/cluster-tools.sh" --print)
    if [[ -x "$BIN/kubectl" && -f "$CONFS/admin.conf" ]] && apiserver_ready >/dev/null 2>&1; then
        echo "readyz: ok (https://$HOST_IP:$API_PORT)"
        if node_ready >/dev/null 2>&1; then echo "node $NODE_NAME: Ready"; else echo "node $NODE_NAME: not Ready"; ok=1; fi
    else
        echo "readyz: not ready"; ok=1
    fi
    echo "kubeconfig: $KUBECONFIG_OUT"
    return $ok
}

cmd_purge() {
    cmd_stop
    rm -rf "$STATE"
    say "removed $STATE"
}

main() {
    local command=${1:-}
    case $command in
        _ingress-status) BIN=$("$HERE/cluster-tools.sh" --print); ingress_status; return ;;
        _volume-provisioner) BIN=$("$HERE/cluster-tools.sh" --print); provision_volumes; return ;;
        kubeconfig) echo "$KUBECONFIG_OUT"; return ;;
        address) echo "$HOST_IP"; return ;;
        status) cmd_status; return ;;
        load) shift; BIN=$("$HERE/cluster-tools.sh" --print); load_images "$@"; return ;;
        sync-images) sync_images "${2:-}"; return ;;
    esac
    mkdir -p "$STATE"
    # One start/stop at a time (parallel test runners share the cluster).
    exec 9>"$STATE/.lock"
    flock 9
    case $command in
        start) cmd_start ;;
        stop) cmd_stop ;;
        purge) cmd_purge ;;
        *) echo "usage: machine/local_cluster/cluster.sh start|stop|status|kubeconfig|address|load IMAGE...|sync-images PREFIX|purge" >&2; exit 2 ;;
    esac
}

main "$@"
