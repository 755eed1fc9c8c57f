# Sourced by machine/local_cluster/cluster.sh: the cluster's one real node. containerd (CRI),
# kubelet and kube-proxy run in the network namespace $NODE_NETNS, joined to the host by a
# veth pair; entered with `nsenter --net=` (`ip netns exec` would remount /sys and hide the
# cgroup v1 hierarchies kubelet and runc need). Every measured fact behind these settings is in
# docs/testing.md ("The real node").
#
# Needs from cluster.sh: STATE LOGS RUN PKI CONFS BIN SERVICE_CIDR POD_CIDR NODE_NAME, and its
# launch/halt/say/die/kubectl/wait_for helpers.

NODE_NETNS=dockyard-node
NODE_NETNS_PATH=/run/netns/$NODE_NETNS
HOST_IP=10.250.0.1 NODE_IP=10.250.0.2  # the veth pair's two ends (a /30 of their own)
HOST_VETH=dy-node-h NODE_VETH=dy-node-n
NODE_POD_CIDR=${POD_CIDR%.0.0/16}.0.0/24  # the controller-manager gives the one node the first /24
DNS_IP=${SERVICE_CIDR%.0.0/16}.0.10       # CoreDNS's Service
REGISTRY_PORT=5000                        # the loopback registry (machine/provision/registry.sh)
NODE_DIR=$STATE/node
NODE_IMAGE_PREFIX=dockyard-node.local      # names of the node's own images (no registry serves them)
PAUSE_IMAGE=$NODE_IMAGE_PREFIX/pause:v1.37.2
COREDNS_IMAGE=$NODE_IMAGE_PREFIX/coredns:v1.15.0
METRICS_SERVER_IMAGE=$NODE_IMAGE_PREFIX/metrics-server:v0.8.0
CNI_BIN_DIR=/usr/lib/cni                  # Debian's containernetworking-plugins
CONTAINERD=${DOCKYARD_CONTAINERD:-/usr/local/sbin/containerd}
CTR=${DOCKYARD_CTR:-/usr/local/sbin/ctr}
RUNC=${DOCKYARD_RUNC:-/usr/sbin/runc}
# Global sysctls kubelet sets (they are not per network namespace): restored when the node stops.
KUBELET_SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops)

in_node() { nsenter --net="$NODE_NETNS_PATH" "$@"; }
node_ctr() { "$CTR" --address "$NODE_DIR/containerd.sock" --namespace k8s.io "$@"; }

node_requirements() {
    local missing=() tool
    for tool in "$CONTAINERD" "$CTR" "$RUNC" "$CNI_BIN_DIR/bridge" "$CNI_BIN_DIR/host-local" \
        "$CNI_BIN_DIR/loopback" "$CNI_BIN_DIR/portmap"; do
        [[ -x $tool ]] || missing+=("$tool")
    done
    for tool in nsenter ip iptables conntrack socat; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    ((${#missing[@]} == 0)) || die "the node needs ${missing[*]} (.ci/run installs them: Debian's containernetworking-plugins conntrack socat iptables runc, Docker 26's containerd)"
    [[ -d /sys/fs/cgroup/cpu || -f /sys/fs/cgroup/cgroup.controllers ]] || die "no cgroup hierarchy under /sys/fs/cgroup"
}

# --- network ---------------------------------------------------------------------------------

node_network_up() {
    if [[ ! -e $NODE_NETNS_PATH ]]; then
        ip netns add "$NODE_NETNS"
    fi
    if ! ip link show "$HOST_VETH" >/dev/null 2>&1; then
        ip link add "$HOST_VETH" type veth peer name "$NODE_VETH"
        ip link set "$NODE_VETH" netns "$NODE_NETNS"
        ip addr add "$HOST_IP/30" dev "$HOST_VETH"
        ip link set "$HOST_VETH" up
        in_node ip link set lo up
        in_node ip addr add "$NODE_IP/30" dev "$NODE_VETH"
        in_node ip link set "$NODE_VETH" up
        in_node ip route add default via "$HOST_IP"
    fi
    # Pods' traffic to Services crosses the node's netfilter; the namespace's own copy of these.
    in_node sysctl -qw net.ipv4.ip_forward=1
    # The host reaches ClusterIPs and pod IPs through the node (tests, `curl` from a shell).
    ip route replace "$SERVICE_CIDR" via "$NODE_IP" dev "$HOST_VETH"
    ip route replace "$POD_CIDR" via "$NODE_IP" dev "$HOST_VETH"
}

node_network_down() {
    # Deleting the namespace deletes its end of the pair, hence the host's end and its routes,
    # and every rule kubelet, the CNI plugins and kube-proxy wrote.
    if [[ -e $NODE_NETNS_PATH ]]; then ip netns del "$NODE_NETNS"; fi
    ip link del "$HOST_VETH" 2>/dev/null || true
}

# --- configuration ---------------------------------------------------------------------------

write_node_configs() {
    mkdir -p "$NODE_DIR/cni" "$NODE_DIR/certs.d/127.0.0.1:$REGISTRY_PORT" "$NODE_DIR/kubelet" "$NODE_DIR/images"
    cat >"$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$NODE_DIR/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # Pods' network namespaces under the state directory, not /run/netns: a stop that kills the
  # pods then unmounts them with the rest of the node's mounts.
  netns_mounts_under_state_dir = true
  # No process here has CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below containerd's
  # own (without this every sandbox fails: "can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "$RUNC"
      SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$NODE_DIR/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$NODE_DIR/certs.d"
EOF
    # Images keep their 127.0.0.1:5000/... names; in the namespace that address is the node's
    # own loopback, so pulls go to the forwarder on the host's end of the pair.
    cat >"$NODE_DIR/certs.d/127.0.0.1:$REGISTRY_PORT/hosts.toml" <<EOF
server = "http://127.0.0.1:$REGISTRY_PORT"
[host."http://$HOST_IP:$REGISTRY_PORT"]
  capabilities = ["pull", "resolve"]
EOF
    cat >"$NODE_DIR/cni/10-dockyard.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "dockyard-pods",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$NODE_POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$NODE_DIR/cni-ipam"}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
    # cgroup v1 and cgroupfs: this machine has no systemd and v1 controllers. Eviction
    # thresholds in absolute sizes: the host's disk is shared with everything else on it.
    # resolvConf "": pods with dnsPolicy Default get no resolver (none is reachable from pods).
    cat >"$NODE_DIR/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE_DIR/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: ""
podLogsDir: $NODE_DIR/pod-logs
volumePluginDir: $NODE_DIR/volume-plugins
serializeImagePulls: false
# Images loaded into the node (node_images.py, `cluster.sh load`, `sync-images`: what `minikube
# image load` does) are used as they are; without this kubelet tried to pull the loaded
# datastore images from their public registry (ImagePullBackOff on dev's Minikube path).
imagePullCredentialsVerificationPolicy: NeverVerify
evictionHard: {memory.available: 200Mi, nodefs.available: 2Gi, imagefs.available: 2Gi, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 95
EOF
    # conntrack 0s and maxPerCore 0: leave the (global) conntrack sysctls alone.
    # localhostNodePorts false: no route_localnet on the namespace's loopback.
    cat >"$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CONFS/kube-proxy.conf}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false}
EOF
}

# --- processes -------------------------------------------------------------------------------

save_sysctls() {
    [[ -f $RUN/sysctls ]] && return 0  # the values from before the first start, not kubelet's
    local name
    for name in "${KUBELET_SYSCTLS[@]}"; do echo "$name=$(sysctl -n "$name")"; done >"$RUN/sysctls"
}

restore_sysctls() {
    [[ -f $RUN/sysctls ]] || return 0
    local line
    while read -r line; do sysctl -qw "$line" || say "could not restore $line"; done <"$RUN/sysctls"
    rm -f "$RUN/sysctls"
}

start_registry_forwarder() {
    # argv[0] names the state directory, which is what pid_of recognises its own processes by.
    launch registry-forwarder bash -c 'exec -a "socat $0" socat "TCP-LISTEN:$1,bind=$2,reuseaddr,fork" "TCP:127.0.0.1:$1"' \
        "$STATE/" "$REGISTRY_PORT" "$HOST_IP"
}

start_containerd() {
    launch containerd nsenter --net="$NODE_NETNS_PATH" "$CONTAINERD" --config "$NODE_DIR/containerd.toml"
    wait_for 60 "containerd's socket" node_ctr version
}

import_node_images() {
    local name binary image
    for name in pause coredns metrics-server; do
        case $name in
            pause) image=$PAUSE_IMAGE ;;
            coredns) image=$COREDNS_IMAGE ;;
            metrics-server) image=$METRICS_SERVER_IMAGE ;;
        esac
        binary=$BIN/$name
        if node_ctr images list -q "name==$image" | grep -q .; then continue; fi
        python3 "$HERE/node_images.py" "$NODE_DIR/images/$name.tar" "$image" "$binary"
        node_ctr images import --no-unpack "$NODE_DIR/images/$name.tar" >/dev/null
    done
}

start_kubelet() {
    save_sysctls
    launch kubelet nsenter --net="$NODE_NETNS_PATH" "$BIN/kubelet" \
        --config="$NODE_DIR/kubelet/config.yaml" --kubeconfig="$CONFS/kubelet.conf" \
        --root-dir="$NODE_DIR/kubelet/root" --cert-dir="$NODE_DIR/kubelet/pki" \
        --hostname-override="$NODE_NAME" --node-ip="$NODE_IP"
}

start_kube_proxy() {
    launch kube-proxy nsenter --net="$NODE_NETNS_PATH" "$BIN/kube-proxy" --config="$NODE_DIR/kube-proxy.yaml"
}

# Every process of the node's pods: containerd's shims (they outlive containerd) and what runs
# in the pods' cgroups. Killed when the node stops, so nothing of it outlives `stop`.
kill_pods() {
    local pids="" dir file args
    for file in /proc/[0-9]*/cmdline; do
        mapfile -d '' -t args <"$file" 2>/dev/null || continue
        [[ ${args[0]:-} == *containerd-shim* && " ${args[*]} " == *" $NODE_DIR/containerd.sock "* ]] || continue
        file=${file#/proc/}; pids+=" ${file%/cmdline}"
    done
    for dir in /sys/fs/cgroup/*/kubepods; do
        [[ -d $dir ]] || continue
        pids+=" $(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
    done
    # shellcheck disable=SC2086
    [[ -n ${pids// /} ]] && kill -KILL $pids 2>/dev/null || true
    # A killed process leaves its cgroup a moment later; a cgroup goes once it has no children
    # and no processes (leaves first).
    for dir in /sys/fs/cgroup/*/kubepods; do
        [[ -d $dir ]] || continue
        for _ in {1..50}; do
            find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true
            [[ -d $dir ]] || break
            sleep 0.1
        done
        # (an `if`, not `[[ ]] && say`: that would make the function, and `stop` under set -e,
        # fail exactly when the cgroup went away as it should)
        if [[ -d $dir ]]; then say "could not remove $dir (processes left: $(find "$dir" -name cgroup.procs -exec cat {} + | wc -l))"; fi
    done
}

# Mounts kubelet and the CRI made under the node's directory (volumes, the root dir's own bind
# mount, sandboxes' shm): unmounted before the directory can go.
unmount_node() {
    local mount
    awk -v dir="$NODE_DIR/" 'index($2, dir) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r mount; do
        umount -l "$mount" 2>/dev/null || true
    done
}

node_stop() {
    halt kube-proxy 5
    halt kubelet 10
    kill_pods
    halt containerd 10
    halt registry-forwarder 2
    unmount_node
    node_network_down
    restore_sysctls
}

# --- storage: the default StorageClass's provisioner -----------------------------------------

# Claims of the class `standard` get a `local` PersistentVolume on the node, a directory under
# $NODE_DIR/volumes: kubelet applies a pod's fsGroup to local volumes as a cloud disk's CSI
# driver does (the built-in hostPath provisioner's directories are root's 0750 and ignore it:
# the postgres and redis pods, UID 999, could not write theirs). Released volumes are deleted
# with their directory (reclaim Delete). Run as its own process (`_volume-provisioner`).
STORAGE_CLASS=standard
VOLUME_PROVISIONER=dockyard.dev/local-volumes

provision_volumes() {
    local volumes=$NODE_DIR/volumes
    mkdir -p "$volumes"
    {
        watch_objects persistentvolumes '{.metadata.name}|{.status.phase}|{.spec.local.path}{"\n"}' | while IFS='|' read -r pv phase path; do
            [[ ($phase == Released || $phase == Failed) && $path == "$volumes/"* ]] || continue
            kubectl delete persistentvolume "$pv" --ignore-not-found --wait=false >/dev/null || continue
            rm -rf "$path"
            say "deleted volume $pv ($path)"
        done
    } &
    watch_objects persistentvolumeclaims \
        '{.metadata.namespace}|{.metadata.name}|{.metadata.uid}|{.spec.storageClassName}|{.status.phase}|{.spec.volumeName}|{.spec.resources.requests.storage}|{.spec.accessModes[0]}{"\n"}' \
        | while IFS='|' read -r ns name uid class phase volume size mode; do
        [[ $phase == Pending && -z $volume && $class == "$STORAGE_CLASS" ]] || continue
        local pv=pvc-$uid
        mkdir -p "$volumes/$pv"
        kubectl apply --server-side --field-manager=dockyard-volumes -f - >/dev/null <<EOF || continue
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  annotations: {pv.kubernetes.io/provisioned-by: $VOLUME_PROVISIONER}
spec:
  capacity: {storage: $size}
  accessModes: [${mode:-ReadWriteOnce}]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: $STORAGE_CLASS
  volumeMode: Filesystem
  claimRef: {namespace: $ns, name: $name, uid: $uid}
  local: {path: $volumes/$pv}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]
EOF
        say "provisioned $pv ($size) for $ns/$name"
    done
}

# --- add-ons: CoreDNS and metrics-server --------------------------------------------------------

node_addons() {
    kubectl apply --server-side --field-manager=dockyard-cluster -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
automountServiceAccountToken: true
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "dockyard:coredns"}
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "dockyard:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "dockyard:coredns"}
subjects: [{kind: ServiceAccount, name: coredns, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  # cluster.local only: no upstream resolver is reachable from the pods here.
  Corefile: |
    .:1053 {
        errors
        health :8080
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
        }
        cache 30
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      dnsPolicy: Default
      priorityClassName: system-cluster-critical
      securityContext: {runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: coredns
          image: $COREDNS_IMAGE
          imagePullPolicy: Never
          args: [-conf, /etc/coredns/Corefile]
          ports:
            - {name: dns, containerPort: 1053, protocol: UDP}
            - {name: dns-tcp, containerPort: 1053, protocol: TCP}
          readinessProbe: {httpGet: {path: /ready, port: 8181}, periodSeconds: 2}
          livenessProbe: {httpGet: {path: /health, port: 8080}, periodSeconds: 10}
          resources: {requests: {cpu: 50m, memory: 32Mi}, limits: {memory: 128Mi}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts: [{name: config, mountPath: /etc/coredns, readOnly: true}]
      volumes: [{name: config, configMap: {name: coredns}}]
---
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_IP
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, targetPort: 1053, protocol: UDP}
    - {name: dns-tcp, port: 53, targetPort: 1053, protocol: TCP}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: metrics-server, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: "system:aggregated-metrics-reader"
  labels:
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
  - apiGroups: [metrics.k8s.io]
    resources: [pods, nodes]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:metrics-server"}
rules:
  - apiGroups: [""]
    resources: [nodes/metrics]
    verbs: [get]
  - apiGroups: [""]
    resources: [pods, nodes]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: "metrics-server-auth-reader", namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "metrics-server:system:auth-delegator"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:metrics-server"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:metrics-server"}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: metrics-server}}
  template:
    metadata: {labels: {k8s-app: metrics-server}}
    spec:
      serviceAccountName: metrics-server
      priorityClassName: system-cluster-critical
      securityContext: {runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: metrics-server
          image: $METRICS_SERVER_IMAGE
          imagePullPolicy: Never
          # The kubelet's serving certificate is signed by the cluster CA, which every pod has.
          args: [--cert-dir=/tmp, --secure-port=10250, --kubelet-preferred-address-types=InternalIP,
                 --kubelet-use-node-status-port, --metric-resolution=15s,
                 --kubelet-certificate-authority=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt]
          ports: [{name: https, containerPort: 10250, protocol: TCP}]
          readinessProbe: {httpGet: {path: /readyz, port: https, scheme: HTTPS}, periodSeconds: 5}
          livenessProbe: {httpGet: {path: /livez, port: https, scheme: HTTPS}, periodSeconds: 10}
          resources: {requests: {cpu: 50m, memory: 64Mi}, limits: {memory: 256Mi}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
          volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {sizeLimit: 16Mi}}]
---
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system, labels: {k8s-app: metrics-server}}
spec:
  selector: {k8s-app: metrics-server}
  ports: [{name: https, port: 443, targetPort: https, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io}
spec:
  service: {name: metrics-server, namespace: kube-system}
  group: metrics.k8s.io
  version: v1beta1
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: 100
EOF
}

# CoreDNS answers for the cluster's own names: an A query for kubernetes.default.svc.cluster.local
# sent from the host to its Service address (the host routes Service addresses to the node). A
# Deployment's ready count can still be the one from before a restart; an answer cannot.
dns_answers() {
    python3 - "$DNS_IP" <<'EOF'
import socket, struct, sys
name = b"".join(bytes([len(p)]) + p.encode() for p in "kubernetes.default.svc.cluster.local".split(".")) + b"\0"
query = struct.pack(">HHHHHH", 0x6479, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.settimeout(1)
    s.sendto(query, (sys.argv[1], 53))
    reply = s.recv(512)
flags, answers = struct.unpack(">H", reply[2:4])[0], struct.unpack(">H", reply[6:8])[0]
sys.exit(0 if reply[:2] == query[:2] and flags & 0xF == 0 and answers > 0 else 1)
EOF
}

# --- images from the Docker engine (`minikube image load`) -----------------------------------

load_images() {  # load_images IMAGE...: one archive, every name kept
    local image started
    started=$(date +%s.%N)
    for image; do
        docker image inspect "$image" >/dev/null 2>&1 || die "no image $image in the Docker engine"
    done
    docker save "$@" | node_ctr images import --no-unpack - >/dev/null
    say "loaded $* into the node ($(elapsed "$started")s)"
}

# Minikube's node sees every image its Docker daemon builds (`eval $(minikube docker-env)`):
# here the node has its own containerd, so this follows the engine's image events and loads
# each image tagged under PREFIX as it appears, until stopped. The real tier's Minikube path
# runs it beside `make up`.
sync_images() {  # sync_images PREFIX
    local prefix=$1 action name
    [[ -n $prefix ]] || die "usage: machine/local_cluster/cluster.sh sync-images PREFIX (an image name prefix)"
    say "loading every image the engine tags under $prefix into the node (until stopped)"
    local tags
    docker events --filter type=image --format '{{.Action}} {{.Actor.Attributes.name}}' | while read -r action name; do
        # A `tag` event names the tag, a `load` (buildx's --load) the image ID: either way, every
        # name the image has under PREFIX is loaded (a pod may run another tag than the event's).
        [[ $action == tag || $action == load ]] || continue
        mapfile -t tags < <(docker image inspect --format '{{range .RepoTags}}{{println .}}{{end}}' "$name" 2>/dev/null \
            | grep -F -- "$prefix" | grep .)
        ((${#tags[@]})) || continue
        load_images "${tags[@]}" || say "could not load ${tags[*]}"
    done
}
