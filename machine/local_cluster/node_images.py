"""The node's own images (the sandbox's pause, CoreDNS, metrics-server) as OCI image-layout
tars for `ctr images import`: each is one static binary built by cluster-tools.sh, plus an empty
/tmp. No registry serves them here, and a Dockerfile would need a Docker engine the node does
not otherwise use.

    python3 machine/local_cluster/node_images.py OUT.tar NAME:TAG BINARY [ENTRYPOINT-ARG...]

The layer's file times are fixed, so the same binary always gives the same image digest.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

UID = 65534  # nobody: every node image runs as non-root under PodSecurity `restricted`


def layer(binary: Path) -> bytes:
    """A gzipped tar holding /<binary name> (0755) and /tmp (1777)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode, tmp.mtime = tarfile.DIRTYPE, 0o1777, 0
        tar.addfile(tmp)
        info = tarfile.TarInfo(binary.name)
        info.size, info.mode, info.mtime = binary.stat().st_size, 0o755, 0
        with binary.open("rb") as data:
            tar.addfile(info, data)
    return raw.getvalue()


def blob(tar: tarfile.TarFile, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest[7:]}")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return digest


def write_image(out: Path, name: str, binary: Path, args: list[str]) -> None:
    uncompressed = layer(binary)
    compressed = gzip.compress(uncompressed, mtime=0)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": [f"/{binary.name}", *args], "User": f"{UID}:{UID}", "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(uncompressed).hexdigest()]},
    }
    with tarfile.open(out, "w") as tar:
        config_bytes = json.dumps(config, sort_keys=True).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": blob(tar, config_bytes),
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": blob(tar, compressed),
                    "size": len(compressed),
                }
            ],
        }
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        index = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": blob(tar, manifest_bytes),
                    "size": len(manifest_bytes),
                    # containerd names the imported image after this annotation.
                    "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name},
                }
            ],
        }
        for file_name, content in (("oci-layout", {"imageLayoutVersion": "1.0.0"}), ("index.json", index)):
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(file_name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, name, binary, *args = argv
    if not Path(binary).is_file():
        print(f"node_images.py: {binary} is not a file", file=sys.stderr)
        return 2
    write_image(Path(out), name, Path(binary), args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
