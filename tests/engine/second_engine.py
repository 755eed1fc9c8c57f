"""A second Docker engine for the engine tier, beside the machine's own (which other tests share):
a dockerd with its own data root, exec root, pid file and config file, no bridge, no iptables, no
IP forwarding, listening on its own unix socket and on 127.0.0.1 with TLS (certificates made here
with openssl); and an sshd on 127.0.0.1 (a key made here) whose sessions reach that dockerd, for
`ssh://` endpoints. Both stop, and their directories go, when the tests end.

Nothing here touches the machine's engine: the second dockerd's containerd, state and sockets
live under its own root; the sshd's keys, config and pid file too."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOCKERD = shutil.which("dockerd") or "/usr/local/sbin/dockerd"
DOCKER = shutil.which("docker") or "docker"
SSHD = "/usr/sbin/sshd"
LOOPBACK = "127.0.0.1"


def missing_tools() -> list[str]:
    """What this machine lacks to run these engines (Debian: docker.io, openssh-server, openssl)."""
    needed = {"dockerd": DOCKERD, "docker": DOCKER, "sshd": SSHD, "ssh": shutil.which("ssh") or "",
              "ssh-keygen": shutil.which("ssh-keygen") or "", "openssl": shutil.which("openssl") or ""}
    return [name for name, path in needed.items() if not (path and os.access(path, os.X_OK))]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def _run(args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def short_dir(prefix: str) -> Path:
    """Under /tmp, short: dockerd's and containerd's unix sockets live below it (108-byte limit)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@dataclass
class Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate; `client` holds the client's
    ca.pem, cert.pem and key.pem, laid out as DOCKER_CERT_PATH expects."""

    root: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client: Path


def make_pki(root: Path, name: str) -> Pki:
    root.mkdir(parents=True, exist_ok=True)
    client = root / "client"
    client.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(["openssl", "req", "-x509", *ec, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
          "-subj", f"/CN={name} CA"], cwd=root)
    for who, subject, usage in (("server", f"/CN={LOOPBACK}", "serverAuth"), ("client", f"/CN={name} client", "clientAuth")):
        ext = root / f"{who}.ext"
        ext.write_text((f"subjectAltName=IP:{LOOPBACK}\n" if who == "server" else "") + f"extendedKeyUsage={usage}\n")
        _run(["openssl", "req", *ec, "-keyout", f"{who}-key.pem", "-out", f"{who}.csr", "-subj", subject], cwd=root)
        _run(["openssl", "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
              "-CAcreateserial", "-out", f"{who}-cert.pem", "-days", "2", "-extfile", str(ext)], cwd=root)
    shutil.copy(root / "ca.pem", client / "ca.pem")
    shutil.copy(root / "client-cert.pem", client / "cert.pem")
    shutil.copy(root / "client-key.pem", client / "key.pem")
    return Pki(root, root / "ca.pem", root / "server-cert.pem", root / "server-key.pem", client)


def _stop(proc: subprocess.Popen | None, grace: float = 30) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# The documentation ranges (TEST-NET-1..3) for the engine's own bridge: no traffic leaves, and
# no private range is taken. A machine may use one of them itself (this one's eth0 is on
# TEST-NET-1, its gateway 192.0.2.1, which a bridge on 192.0.2.1/24 would shadow), so the first
# one no route or address of the machine's overlaps is used.
BRIDGE_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")


def _routed() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks the machine's routes and addresses cover now."""
    listed = _run(["ip", "-4", "-o", "route", "show", "table", "all"]) + _run(["ip", "-4", "-o", "addr", "show"])
    found = []
    for word in listed.split():
        try:
            found.append(ipaddress.IPv4Network(word, strict=False))
        except ValueError:
            continue  # not an address or a network ("dev", "eth0", "default", …)
    return found


def unrouted(candidates: tuple[str, ...]) -> ipaddress.IPv4Network:
    """The first of `candidates` that no route or address of this machine overlaps."""
    taken = _routed()
    for candidate in map(ipaddress.IPv4Network, candidates):
        if not any(candidate.overlaps(network) for network in taken):
            return candidate
    raise RuntimeError(f"every one of {', '.join(candidates)} is routed on this machine already")


class SecondEngine:
    """dockerd on its own unix socket and on tcp://127.0.0.1:<port> with TLS (verified client certs)."""

    def __init__(self, pki: Pki):
        self.pki = pki
        self.root = short_dir("dy-engine-")
        self.data_root = self.root / "data"
        self.exec_root = self.root / "exec"
        self.socket = self.root / "docker.sock"
        self.port = free_port()
        self.log = self.root / "dockerd.log"
        self.proc: subprocess.Popen | None = None
        # A bridge of its own: with --bridge=none dockerd deletes the host's docker0, which the
        # machine's engine (and every build on it) needs.
        self.bridge = f"dy{secrets.token_hex(4)}"

    @property
    def unix_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_host(self) -> str:
        return f"tcp://{LOOPBACK}:{self.port}"

    def start(self, wait_seconds: float = 90) -> None:
        config = self.root / "daemon.json"
        config.write_text("{}\n")  # not the machine's /etc/docker/daemon.json
        _run(["ip", "link", "add", "name", self.bridge, "type", "bridge"])
        bridge = unrouted(BRIDGE_NETWORKS)
        _run(["ip", "addr", "add", f"{next(bridge.hosts())}/{bridge.prefixlen}", "dev", self.bridge])
        args = [
            DOCKERD, "--config-file", str(config),
            "--data-root", str(self.data_root), "--exec-root", str(self.exec_root),
            "--pidfile", str(self.root / "docker.pid"),
            f"--bridge={self.bridge}", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
            "--storage-driver=vfs",
            "--host", self.unix_host, "--host", self.tcp_host,
            "--tlsverify", "--tlscacert", str(self.pki.ca),
            "--tlscert", str(self.pki.server_cert), "--tlskey", str(self.pki.server_key),
        ]
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the second dockerd exited ({self.proc.returncode}):\n{_tail(self.log)}")
            if self.answers():
                return
            time.sleep(0.5)
        raise RuntimeError(f"the second dockerd did not answer within {wait_seconds}s:\n{_tail(self.log)}")

    def answers(self) -> bool:
        try:
            return "API listen on" in self.log.read_text() and self.docker("version", "--format", "{{.Server.Version}}") != ""
        except (OSError, RuntimeError):
            return False

    def docker(self, *args: str) -> str:
        """The docker CLI on this engine's own unix socket (never the machine's engine)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        return _run([DOCKER, "--host", self.unix_host, *args], env=env).strip()

    def stop(self) -> None:
        _stop(self.proc)
        # dockerd stops the containerd it started; one left behind by a killed dockerd is ended by its pid.
        pid_file = self.exec_root / "containerd" / "containerd.pid"
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class Sshd:
    """sshd on 127.0.0.1:<port> for one key made here; its sessions run `docker` against `engine`
    (DOCKER_HOST set by sshd's SetEnv). `wrapper_dir` holds an `ssh` that reads this test's
    ssh_config (key, known_hosts), standing in for the user's ~/.ssh/config, which the tests leave alone."""

    def __init__(self, engine: SecondEngine):
        self.engine = engine
        self.root = short_dir("dy-sshd-")
        self.port = free_port()
        self.user = "root"
        self.wrapper_dir = self.root / "bin"
        self.log = self.root / "sshd.log"
        self.proc: subprocess.Popen | None = None

    def host(self, user: str | None = None) -> str:
        return f"ssh://{user or self.user}@{LOOPBACK}:{self.port}"

    def start(self, wait_seconds: float = 20) -> None:
        root = self.root
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dockyard test host", "-f", str(root / "host_key")])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dockyard test client", "-f", str(root / "client_key")])
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        (root / "remote-docker-config").mkdir()
        (root / "sshd_config").write_text("\n".join([
            f"ListenAddress {LOOPBACK}", f"Port {self.port}",
            f"HostKey {root / 'host_key'}", f"PidFile {root / 'sshd.pid'}",
            f"AuthorizedKeysFile {root / 'authorized_keys'}",
            "PubkeyAuthentication yes", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "UsePAM no", "StrictModes no",
            "AllowTcpForwarding no", "AllowStreamLocalForwarding no", "X11Forwarding no", "PermitTTY no",
            f"SetEnv DOCKER_HOST={self.engine.unix_host} DOCKER_CONFIG={root / 'remote-docker-config'}",
            "",
        ]))
        (root / "known_hosts").write_text(f"[{LOOPBACK}]:{self.port} {(root / 'host_key.pub').read_text()}")
        (root / "ssh_config").write_text("\n".join([
            f"Host {LOOPBACK}", f"  IdentityFile {root / 'client_key'}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {root / 'known_hosts'}", "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes", "  BatchMode yes", "  ConnectTimeout 10", "",
        ]))
        self.wrapper_dir.mkdir()
        wrapper = self.wrapper_dir / "ssh"
        wrapper.write_text(f'#!/bin/sh\nexec {shutil.which("ssh")} -F {root / "ssh_config"} "$@"\n')
        wrapper.chmod(0o755)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        _run([SSHD, "-t", "-f", str(root / "sshd_config")])
        with self.log.open("w") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(root / "sshd_config")], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited ({self.proc.returncode}):\n{_tail(self.log)}")
            try:
                with socket.create_connection((LOOPBACK, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"sshd did not listen within {wait_seconds}s:\n{_tail(self.log)}")

    def path_with_ssh_wrapper(self) -> str:
        return f"{self.wrapper_dir}{os.pathsep}{os.environ.get('PATH', '')}"

    def stop(self) -> None:
        _stop(self.proc, grace=10)
        shutil.rmtree(self.root, ignore_errors=True)


def docker_cli(config_dir: Path, *args: str) -> str:
    """The real docker CLI on a Docker config directory of the test's own (contexts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    return _run([DOCKER, *args], env={**env, "DOCKER_CONFIG": str(config_dir)})
