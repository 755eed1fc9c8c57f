"""dockyard/prometheus keeps the prom/prometheus image's contract (entrypoint, config path, TSDB in
/prometheus, UID 65534, port 9090), distroless and hardened as the catalog runs it, and runs the
scrape config the program generates from the catalog (components/plan/monitoring.py): Prometheus
itself accepts it, and scrapes what it names."""

from __future__ import annotations

import json
import posixpath
import time
import urllib.parse
import urllib.request

import pytest

from components.plan.monitoring import scrape_config, scrape_targets
from machine.base_images import bases
from testing import dockerlib as dl
from testing.harness import CATALOG
from tests.engine.conftest import SPECS, hardened_args

PROMETHEUS = bases.SPECS["prometheus"].ref
MONITOR = next(spec for spec in CATALOG.services if spec.monitoring is not None)
BUDGET_MB = 120  # measured 113.0: prometheus 49.9 + promtool 48.1, glibc, the classic UI's scripts
HARDENED = [*hardened_args(MONITOR), "-p", f"127.0.0.1::{MONITOR.port}"]
CONFIG_DIR = posixpath.dirname(MONITOR.monitoring.config_file)


def generated(tmp_path, targets) -> str:
    """The program's scrape config in a directory a container mounts read-only at the config's."""
    directory = tmp_path / "config"
    directory.mkdir()
    (directory / posixpath.basename(MONITOR.monitoring.config_file)).write_text(
        scrape_config("enginetest", MONITOR.monitoring, targets)
    )
    directory.chmod(0o755)
    for file in directory.iterdir():
        file.chmod(0o644)
    return str(directory)


def query(port: int, expr: str) -> list[dict]:
    url = f"http://127.0.0.1:{port}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["data"]["result"]


def test_the_image_keeps_prometheus_contract_and_the_catalog_user(base_images):
    config = dl.image_config(PROMETHEUS)
    assert config["User"] == MONITOR.user == "65534:65534"
    assert config["Entrypoint"] == ["/usr/bin/prometheus"]
    assert f"--config.file={MONITOR.monitoring.config_file}" in config["Cmd"]
    assert f"--storage.tsdb.path={MONITOR.state.path}" in config["Cmd"]
    assert f"{MONITOR.port}/tcp" in config["ExposedPorts"]
    assert MONITOR.state.path in config["Volumes"]


def test_the_image_is_distroless_and_within_budget(base_images):
    proc = dl.docker_proc("run", "--rm", *dl.label_args(), "--entrypoint", "sh", PROMETHEUS, "-c", "true")
    assert proc.returncode != 0 and "executable file not found" in proc.stderr, proc
    assert dl.programs_in_path(dl.layer_files(PROMETHEUS)) == []
    size = dl.image_size(PROMETHEUS)
    print(f"\n{PROMETHEUS}: {size / 1e6:.1f} MB")
    assert size <= BUDGET_MB * 1_000_000, f"{size / 1e6:.1f} MB > {BUDGET_MB} MB"


def test_prometheus_accepts_the_generated_config_for_the_whole_catalog(base_images, tmp_path):
    hosts = {spec.name: spec.name for spec in CATALOG.services}
    directory = generated(tmp_path, scrape_targets(CATALOG.services, hosts))
    out = dl.docker("run", "--rm", *dl.label_args(), "--entrypoint", "promtool", "-v", f"{directory}:/cfg:ro",
                    PROMETHEUS, "check", "config", f"/cfg/{posixpath.basename(MONITOR.monitoring.config_file)}")  # fmt: skip
    assert "SUCCESS" in out, out


def test_it_runs_hardened_with_the_generated_config_and_scrapes_itself(base_images, tmp_path):
    # Itself as its only target, at 127.0.0.1 (no other container on this network).
    directory = generated(tmp_path, scrape_targets([MONITOR], {MONITOR.name: "127.0.0.1"}))
    volume = dl.unique("promdata")
    dl.docker("volume", "create", *dl.label_args(), volume)
    container = dl.run_container(
        PROMETHEUS,
        name=dl.unique("prometheus"),
        run_args=[*HARDENED, "-v", f"{directory}:{CONFIG_DIR}:ro", "-v", f"{volume}:{MONITOR.state.path}"],
    )
    # The catalog's health check (the image's own is the same command).
    status = dl.wait_health(container, 90)
    assert status == "healthy", f"{status}\n{dl.logs(container)}"
    port = dl.host_port(container, MONITOR.port)
    dl.docker("exec", container, *MONITOR.health.command)
    deadline = time.monotonic() + 60  # the first scrape comes within one scrape interval
    while not (samples := query(port, f'up{{job="{MONITOR.name}"}}')) and time.monotonic() < deadline:
        time.sleep(1)
    assert [s["value"][1] for s in samples] == ["1"], samples
    assert samples[0]["metric"]["service"] == MONITOR.name  # the generated config's target label
    # The TSDB is in the volume, written as 65534; nothing else is writable.
    assert dl.inspect(container)["HostConfig"]["ReadonlyRootfs"] is True
    listing = dl.docker("run", "--rm", *dl.label_args(), "--entrypoint", "promtool", "-v",
                        f"{volume}:/data:ro", PROMETHEUS, "tsdb", "list", "/data", check=False)  # fmt: skip
    assert "BLOCK ULID" in listing, listing
    # The classic UI and the scripts it loads from Debian's libjs packages.
    for path in ("/classic/graph", "/classic/static/jquery/jquery.min.js"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            assert response.status == 200, path


@pytest.mark.parametrize("service", [MONITOR.name])
def test_the_catalog_health_check_binary_exists_in_the_image(base_images, service):
    binary = SPECS[service].health.command[0]
    files = {f.path for f in dl.layer_files(PROMETHEUS)}
    assert f"usr/bin/{binary}" in files
