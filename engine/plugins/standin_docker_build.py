#!/usr/bin/env python3
"""STAND-IN for the Pulumi `docker-build` resource provider 0.0.22 (`docker-build:index:Image`).

This is not Pulumi's provider: its Go module cannot be built or downloaded on our
machines, so this Python plugin takes its place for the real-engine tier. It is installed
as `pulumi-resource-docker-build` 0.0.22 (engine/plugins/install.sh) so the real CLI
launches it for the `pulumi_docker_build` SDK, and every log line says it is a stand-in.

It drives `docker buildx build` the way the real provider's `exec: true` mode does
(pulumi/pulumi-docker-build, provider/internal/cli.go `execBuild`) and forms its outputs
as the real provider does (provider/internal/image.go, context.go, cache.go, export.go):

- `contextHash`: sha256 over the Dockerfile's content, then each file of the context not
  excluded by `<Dockerfile>.dockerignore` or `<context>/.dockerignore` (lexical walk:
  content, slash path, Go file-mode string), then local named contexts (`hashBuildContext`).
- `digest`: `containerimage.digest` from buildx's metadata file; empty without an export.
  It is also the resource ID once set (else the resource name).
- `ref`: the first tag that parses; once there is a digest, the first *canonical* tag
  (`host/repo:tag`, e.g. `127.0.0.1:5000/app:v1`, not `app:v1`) as `name:tag@digest`.
- diff: every changed input is an in-place update (a rebuild), registry passwords are
  ignored, and a changed `contextHash` (or `pull` with an export) forces a rebuild.
- preview: no build when `buildOnPreview` is false or an input is unknown; a preview build
  never pushes. Outputs not mirroring inputs are unknown in a create preview, and in an
  update preview when an input changed (pulumi-go-provider's `markComputed`).

Known differences from the real provider (also in the report that introduced it):
- secrets reach BuildKit as `--secret id=K,src=<0600 temp file>`, not in memory;
- registry credentials: the host's `auths` entries plus `registries`, written to a temporary
  DOCKER_CONFIG (credential helpers are switched off, as the real provider does, but their
  credentials are not read back);
- without `builder.name` buildx's current builder is used (the real provider may create a
  docker-container builder);
- registry reads/deletes (refresh, destroy) speak the registry HTTP API directly and fall
  back to plain HTTP for loopback registries;
- provider-level config (`host`, `registries`) and `exec` are accepted and ignored.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import json
import os
import posixpath
import re
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.provider.experimental import server
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import (
    CheckFailure,
    CheckRequest,
    CheckResponse,
    ConfigureRequest,
    ConfigureResponse,
    CreateRequest,
    CreateResponse,
    DeleteRequest,
    DiffRequest,
    DiffResponse,
    PropertyDiff,
    PropertyDiffKind,
    Provider,
    ReadRequest,
    ReadResponse,
    UpdateRequest,
    UpdateResponse,
)
from standin_wire import UNKNOWN, EngineLog, plain, resource_token, without_dependencies

NAME = "docker-build"
VERSION = "0.0.22"
IMAGE_TOKEN = "docker-build:index:Image"
LOG_PREFIX = f"[stand-in {NAME} {VERSION}]"
TAIL_LINES = 40


# --- property values <-> plain Python ------------------------------------------------------

def plain_map(values: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {key: plain(value) for key, value in values.items()}


def wire(value: Any, secret: bool = False) -> PropertyValue:
    """Plain Python -> PropertyValue (ints become floats: the wire has only numbers)."""
    if isinstance(value, Mapping):
        return PropertyValue({key: wire(item) for key, item in value.items()}, is_secret=secret)
    if isinstance(value, (list, tuple)):
        return PropertyValue([wire(item) for item in value], is_secret=secret)
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return PropertyValue(value, is_secret=secret)


def has_unknown(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return value == UNKNOWN


def known_str(value: Any) -> str:
    """A string input, or "" when absent or unknown (how the real provider's preview sees it)."""
    return value if isinstance(value, str) and value != UNKNOWN else ""


# --- logging to the engine -------------------------------------------------------------------



# --- build context hash (provider/internal/context.go) ---------------------------------------

def go_clean(path: str) -> str:
    """Go's path.Clean: normpath, but a leading `//` collapses too."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def read_ignore_file(path: Path) -> list[str]:
    """moby/patternmatcher/ignorefile.ReadAll: comments, blanks, `!` and leading `/` handled."""
    patterns = []
    text = path.read_text(encoding="utf-8", errors="replace").removeprefix("\ufeff")
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def ignore_patterns(dockerfile: str, context: str) -> list[str]:
    """`<Dockerfile>.dockerignore` wins over `<context>/.dockerignore` (getIgnorePatterns)."""
    candidates = [Path(dockerfile + ".dockerignore")] if dockerfile else []
    if os.path.isdir(context):
        candidates.append(Path(context) / ".dockerignore")
    for candidate in candidates:
        if candidate.is_file():
            return read_ignore_file(candidate)
    return []


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """patternmatcher's translation of one pattern: `**` any depth, `*` and `?` within a
    path segment, `\\` escapes, character classes passed through."""
    out, i = "^", 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*" and pattern[i + 1:i + 2] == "*":
            i += 2
            if pattern[i:i + 1] == "/":
                i += 1
            out += ".*" if i >= len(pattern) else "(.*/)?"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char in ".$+()|{}^":
            out += "\\" + char
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += char
        i += 1
    return re.compile(out + "$")


class IgnoreMatcher:
    """Whether a context path is excluded: the last matching pattern wins, a pattern matches
    a path or any of its parent directories (MatchesOrParentMatches)."""

    def __init__(self, patterns: list[str]):
        self._patterns = []
        for pattern in patterns:
            exclusion = pattern.startswith("!")
            body = pattern[1:] if exclusion else pattern
            if body:
                self._patterns.append((pattern_regex(body), exclusion))
        self.has_exceptions = any(exclusion for _, exclusion in self._patterns)

    def excluded(self, relative: str) -> bool:
        parents = relative.split("/")[:-1]
        matched = False
        for regex, exclusion in self._patterns:
            if exclusion != matched:
                continue
            hit = bool(regex.match(relative)) or any(
                regex.match("/".join(parents[:depth + 1])) for depth in range(len(parents))
            )
            if hit:
                matched = not exclusion
        return matched


def go_mode_string(mode: int) -> str:
    """Go's os.FileMode.String() for the files hashed: type/special letters, then rwx bits."""
    letters = "".join(letter for flag, letter in (
        (stat.S_ISLNK(mode), "L"), (mode & stat.S_ISUID, "u"), (mode & stat.S_ISGID, "g"), (mode & stat.S_ISVTX, "t"),
    ) if flag)
    perms = "".join(char if mode & (1 << (8 - index)) else "-" for index, char in enumerate("rwxrwxrwx"))
    return (letters or "-") + perms


def context_files(root: str, matcher: IgnoreMatcher) -> Iterator[tuple[str, str, os.stat_result]]:
    """(slash path, full path, lstat) of each file in lexical walk order, as fsutil walks."""
    def walk(directory: str, prefix: str) -> Iterator[tuple[str, str, os.stat_result]]:
        for name in sorted(os.listdir(directory)):
            full, relative = os.path.join(directory, name), prefix + name
            info = os.lstat(full)
            if stat.S_ISDIR(info.st_mode):
                # An excluded directory is skipped whole unless a `!` pattern may re-include.
                if matcher.has_exceptions or not matcher.excluded(relative):
                    yield from walk(full, relative + "/")
            elif not matcher.excluded(relative):
                yield relative, full, info
    yield from walk(root, "")


def hash_file(digest: Any, full: str, relative: str, info: os.stat_result) -> None:
    """Content, then slash path and mode; symlinks are followed, links to directories skipped."""
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
        return
    try:
        with open(full, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except IsADirectoryError:
        return
    except OSError as error:
        raise RuntimeError(f"could not open {relative!r}: {error}") from error
    digest.update(go_clean(relative).encode())
    digest.update(go_mode_string(info.st_mode).encode())


def hash_directory(digest: Any, root: str, excludes: list[str]) -> None:
    for relative, full, info in context_files(root, IgnoreMatcher(excludes)):
        hash_file(digest, full, relative, info)


def hash_build_context(context: str, dockerfile: str, named: Mapping[str, str]) -> str:
    """provider/internal/context.go hashBuildContext, including its quirks (an unreadable
    Dockerfile yields an empty hash)."""
    digest = hashlib.sha256()
    excludes = []
    if os.path.isdir(context) or os.path.isfile(dockerfile):
        excludes = ignore_patterns(dockerfile, context)
    if os.path.isfile(dockerfile):
        try:
            digest.update(Path(dockerfile).read_bytes())
        except OSError:
            return ""
    if os.path.isdir(context):
        hash_directory(digest, context, excludes)
    for key in sorted(named):
        if os.path.isdir(named[key]):
            hash_directory(digest, named[key], ignore_patterns("", named[key]))
    return digest.hexdigest()


# --- image references (github.com/distribution/reference) ------------------------------------

_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REFERENCE = re.compile(
    rf"^((?:{_DOMAIN}/)?{_PATH_PART}(?:/{_PATH_PART})*)"
    r"(?::([\w][\w.-]{0,127}))?"
    r"(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$",
    re.ASCII,
)
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class Reference:
    name: str
    tag: str = ""
    digest: str = ""

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def domain(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def path(self) -> str:
        return self.name.split("/", 1)[1]


def parse_reference(text: str) -> Reference | None:
    """reference.Parse: the grammar, and a name of at most 255 characters."""
    match = _REFERENCE.match(text)
    if not match or len(match.group(1)) > 255:
        return None
    return Reference(match.group(1), match.group(2) or "", match.group(3) or "")


def split_domain(text: str) -> tuple[str, str]:
    """splitDockerDomain: a first segment with `.` or `:`, `localhost` or capitals is a host."""
    head, _, rest = text.partition("/")
    if not rest or (not any(c in head for c in ".:") and head != "localhost" and head.lower() == head):
        domain, remainder = DOCKER_HUB, text
    else:
        domain, remainder = head, rest
    if domain == "index.docker.io":
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in remainder:
        remainder = "library/" + remainder
    return domain, remainder


def parse_normalized(text: str) -> Reference | None:
    """reference.ParseNormalizedNamed: `app:v1` -> `docker.io/library/app:v1`."""
    if re.fullmatch(r"[a-f0-9]{64}", text):
        return None
    domain, remainder = split_domain(text)
    repository = remainder.split(":", 1)[0]
    if repository.lower() != repository:  # "repository name must be lowercase"
        return None
    return parse_reference(f"{domain}/{remainder}")


def is_canonical(text: str) -> bool:
    """reference.ParseNamed: accepted only when already in normalized (fully qualified) form."""
    normalized = parse_normalized(text)
    return normalized is not None and str(normalized) == text


def add_digest(tag: str, digest: str) -> str | None:
    """image.go addDigest: `name:tag@digest` for a canonical tag (`latest` when untagged)."""
    if not is_canonical(tag):
        return None
    parsed = parse_reference(tag)
    full = f"{parsed.name}:{parsed.tag or 'latest'}@{digest}"
    return full if parse_reference(full) else None


def default_ref(tags: list[str]) -> str:
    """Before a digest exists the ref is the first tag that parses at all."""
    return next((tag for tag in tags if parse_normalized(tag) is not None), "")


def digest_ref(tags: list[str], digest: str) -> str | None:
    return next((ref for ref in (add_digest(tag, digest) for tag in tags) if ref), None)


# --- buildx arguments (cache.go, export.go, cli.go execBuild) --------------------------------

def _flag(value: Any) -> str:
    return "true" if value else "false"


def _parts(*pairs: tuple[str, Any]) -> list[str]:
    """`key=value` for each pair whose value is set (empty strings and None are left out)."""
    return [f"{key}={_flag(value) if isinstance(value, bool) else value}" for key, value in pairs
            if value is not None and value != ""]


def _join(*parts: str | list[str]) -> str:
    flat: list[str] = []
    for part in parts:
        flat.extend([part] if isinstance(part, str) else part)
    return ",".join(part for part in flat if part)


def _number(value: Any) -> int:
    return int(value or 0)


def _compression(entry: Mapping[str, Any]) -> list[str]:
    """CacheWithCompression / ExportWithCompression: only spelled out with a level."""
    level = _number(entry.get("compressionLevel"))
    if level == 0:
        return []
    return _parts(("compression", entry.get("compression")), ("compression-level", min(level, 22)),
                  ("force-compression", entry.get("forceCompression")))


def _oci(entry: Mapping[str, Any]) -> list[str]:
    """CacheWithOCI: OCI media types default to true; image-manifest only when set."""
    oci = entry.get("ociMediaTypes", True)
    return _parts(("oci-mediatypes", oci), ("image-manifest", entry.get("imageManifest"))) if oci is not None else []


def _cache_from_registry(entry: Mapping[str, Any]) -> str:
    return "type=registry,ref=" + str(entry.get("ref", ""))


def _cache_from_source(entry: Mapping[str, Any], kind: str) -> str:
    if kind == "local":
        return _join("type=local", _parts(("src", entry.get("src")), ("digest", entry.get("digest"))))
    if kind == "registry":
        return _cache_from_registry(entry)
    if kind == "gha":
        return _join("type=gha", _parts(("scope", entry.get("scope", "buildkit")), ("token", entry.get("token")),
                                         ("url", entry.get("url"))))
    if kind == "azblob":
        return _join("type=azblob", _parts(("name", entry.get("name")), ("account_url", entry.get("accountUrl")),
                                            ("secret_access_key", entry.get("secretAccessKey"))))
    return _join("type=s3", _parts(
        ("bucket", entry.get("bucket")), ("name", entry.get("name")), ("endpoint_url", entry.get("endpointUrl")),
        ("blobs_prefix", entry.get("blobsPrefix")), ("manifests_prefix", entry.get("manifestsPrefix")),
        ("use_path_type", entry.get("usePathStyle")), ("access_key_id", entry.get("accessKeyId")),
        ("secret_access_key", entry.get("secretAccessKey")), ("session_token", entry.get("sessionToken"))))


def usable_cache(text: str) -> str:
    """containsGithubToken: a GitHub Actions cache without its token and URL is dropped."""
    if text.startswith("type=gha") and not ("token=" in text and "url=" in text):
        return ""
    return text


def cache_from_arg(entry: Mapping[str, Any]) -> str:
    """CacheFrom.String: the one configured source, "" when disabled."""
    if entry.get("disabled"):
        return ""
    parts = [_cache_from_source(entry[kind], kind) for kind in ("local", "registry", "gha", "azblob", "s3")
             if isinstance(entry.get(kind), Mapping)]
    return usable_cache(_join(*parts, known_str(entry.get("raw"))))


def _cache_to_source(entry: Mapping[str, Any], kind: str) -> str:
    mode = _parts(("mode", entry.get("mode", "min")))
    ignore = _parts(("ignore-error", entry.get("ignoreError", False)))
    if kind == "inline":
        return "type=inline"
    if kind == "local":  # the real provider leaves `mode` out for local caches
        return _join("type=local,dest=" + str(entry.get("dest", "")), _compression(entry), ignore)
    if kind == "registry":
        return _join(_cache_from_registry(entry), mode, ignore, _oci(entry), _compression(entry))
    return _join(_cache_from_source(entry, kind), mode, ignore)


def cache_to_arg(entry: Mapping[str, Any]) -> str:
    """CacheTo.String: the one configured destination, "" when disabled."""
    if entry.get("disabled"):
        return ""
    parts = [_cache_to_source(entry[kind] or {}, kind)
             for kind in ("inline", "local", "registry", "gha", "azblob", "s3") if entry.get(kind) is not None]
    return usable_cache(_join(*parts, known_str(entry.get("raw"))))


def _export_common(entry: Mapping[str, Any], *, docker_order: bool) -> list[str]:
    oci = _parts(("oci-mediatypes", entry.get("ociMediaTypes")))
    annotations = sorted(f"annotation.{key}={value}" for key, value in (entry.get("annotations") or {}).items())
    names = [f"name={name}" for name in entry.get("names") or []]
    if docker_order:
        return oci + _compression(entry) + annotations + names
    return oci + _compression(entry) + names + annotations


def _export_image(entry: Mapping[str, Any], kind: str) -> str:
    push_default = True if kind == "registry" else None
    own = _parts(("push", entry.get("push", push_default)), ("push-by-digest", entry.get("pushByDigest")),
                 ("insecure", entry.get("insecure")), ("dangling-name-prefix", entry.get("danglingNamePrefix")),
                 ("name-canonical", entry.get("nameCanonical")), ("unpack", entry.get("unpack")),
                 ("store", entry.get("store", True)))
    return _join(f"type={kind}", own, _export_common(entry, docker_order=False))


def _export_docker(entry: Mapping[str, Any], kind: str) -> str:
    own = _parts(("dest", entry.get("dest")), ("tar", entry.get("tar", True)))
    return _join(f"type={kind}", own, _export_common(entry, docker_order=True))


def export_arg(entry: Mapping[str, Any]) -> str:
    """Export.String: the one configured exporter, "" when disabled."""
    if entry.get("disabled"):
        return ""
    parts = []
    for kind in ("tar", "local", "registry", "image", "oci", "docker", "cacheonly"):
        value = entry.get(kind)
        if kind not in entry or value is None:
            continue
        if kind in ("tar", "local"):
            parts.append(f"type={kind},dest={value.get('dest', '')}")
        elif kind in ("registry", "image"):
            parts.append(_export_image(value, kind))
        elif kind in ("oci", "docker"):
            parts.append(_export_docker(value, kind))
        else:
            parts.append("type=cacheonly")
    return _join(*parts, known_str(entry.get("raw")))


def export_attrs(text: str) -> tuple[str, dict[str, str]]:
    """parseExports: `type=registry` is an image export that pushes unless told otherwise."""
    attrs = dict(field.split("=", 1) for field in text.split(",") if "=" in field)
    kind = attrs.pop("type", "")
    if kind == "registry":
        kind = "image"
        attrs.setdefault("push", "true")
    return kind, attrs


def output_args(args: Mapping[str, Any], preview: bool) -> list[str]:
    """Exports plus the push/load shorthands; a preview build never pushes (Export.validate)."""
    exports = [export_arg(entry) for entry in args.get("exports") or []]
    if args.get("push"):
        exports.append("type=registry")
    if args.get("load"):
        exports.append("type=docker")
    outputs = []
    for text in filter(None, exports):
        kind, attrs = export_attrs(text)
        if preview and kind == "image":
            attrs["push"] = "false"
        outputs.append(_join(f"type={kind}", [f"{key}={value}" for key, value in attrs.items()]))
    return outputs


def is_exported(args: Mapping[str, Any]) -> bool:
    """image.go isExported: a push, or an export that pushes."""
    if args.get("push"):
        return True
    for entry in args.get("exports") or []:
        text = export_arg(entry)
        if text:
            kind, attrs = export_attrs(text)
            if kind == "image" and attrs.get("push") == "true":
                return True
    return False


def _repeat(flag: str, values: Any) -> list[str]:
    return [item for value in values or [] for item in (flag, str(value))]


def _pairs(flag: str, mapping: Mapping[str, Any] | None) -> list[str]:
    return [item for key, value in (mapping or {}).items() for item in (flag, f"{key}={value}")]


def buildx_argv(
    args: Mapping[str, Any], *, preview: bool, metadata_file: str, secret_files: Mapping[str, str],
) -> list[str]:
    """`docker buildx build` for these inputs (cli.go execBuild's flags); provenance off as the
    real provider builds (`Attests: provenance: nil`)."""
    context = args.get("context") or {}
    dockerfile = args.get("dockerfile") or {}
    argv = [shutil.which("docker") or "docker", "buildx", "build", "--progress", "plain", "--provenance", "false",
            "--metadata-file", metadata_file]
    builder = (args.get("builder") or {}).get("name")
    if builder:
        argv += ["--builder", builder]
    argv += _pairs("--build-arg", args.get("buildArgs"))
    argv += _repeat("--cache-from", filter(None, (cache_from_arg(e) for e in args.get("cacheFrom") or [])))
    argv += _repeat("--cache-to", filter(None, (cache_to_arg(e) for e in args.get("cacheTo") or [])))
    argv += _repeat("--output", output_args(args, preview))
    argv += _repeat("--add-host", args.get("addHosts"))
    named = {key: value.get("location") for key, value in (context.get("named") or {}).items()}
    argv += _pairs("--build-context", named)
    argv += _pairs("--label", args.get("labels"))
    if args.get("network"):
        argv += ["--network", args["network"]]
    argv += ["--no-cache"] if args.get("noCache") else []
    argv += _repeat("--platform", args.get("platforms"))
    argv += ["--pull"] if args.get("pull") else []
    argv += _repeat("--ssh", [ssh["id"] + ("=" + ",".join(ssh["paths"]) if ssh.get("paths") else "")
                              for ssh in args.get("ssh") or []])
    argv += _repeat("--tag", args.get("tags"))
    argv += ["--target", args["target"]] if args.get("target") else []
    argv += _repeat("--secret", [f"id={key},src={path}" for key, path in secret_files.items()])
    if dockerfile.get("inline"):
        argv += ["-f", "-"]
    elif dockerfile.get("location"):
        argv += ["-f", dockerfile["location"]]
    argv.append(context.get("location") or ".")
    return argv


# --- credentials and secrets on disk for one build -------------------------------------------

def host_docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def credential_host(address: str) -> str:
    """The key docker's config uses for a registry (HostNewName's CredHost)."""
    host = re.sub(r"^[a-z]+://", "", address).split("/", 1)[0]
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io", ""):
        return "https://index.docker.io/v1/"
    return host


def scoped_docker_config(registries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The host's config with `registries` layered over its auths and credential helpers off
    (client.go wrap: auth lookups return only what is in memory)."""
    config_file = host_docker_config_dir() / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    auths = dict(config.get("auths") or {})
    for registry in registries:
        token = base64.b64encode(f"{registry.get('username', '')}:{registry.get('password', '')}".encode()).decode()
        auths[credential_host(str(registry.get("address", "")))] = {"auth": token}
    config["auths"] = auths
    config.pop("credsStore", None)
    config.pop("credHelpers", None)
    return config


def prepare_build_dir(work: Path, args: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """A private directory with DOCKER_CONFIG (scoped credentials, the host's contexts and
    plugins) and one 0600 file per BuildKit secret. Returns (environment, secret files)."""
    config_dir = work / "docker-config"
    config_dir.mkdir(mode=0o700)
    (config_dir / "config.json").write_text(json.dumps(scoped_docker_config(args.get("registries") or [])))
    host_dir = host_docker_config_dir()
    for shared in ("contexts", "cli-plugins"):
        if (host_dir / shared).exists():
            (config_dir / shared).symlink_to(host_dir / shared)
    secrets_dir = work / "secrets"
    secrets_dir.mkdir(mode=0o700)
    secret_files = {}
    for index, (key, value) in enumerate(sorted((args.get("secrets") or {}).items())):
        path = secrets_dir / f"secret-{index}"
        path.touch(mode=0o600)
        path.write_text(str(value))
        secret_files[key] = str(path)
    # Builders (e.g. the remote `dockyard-buildkit`) stay registered in the host's buildx dir.
    env = {**os.environ, "DOCKER_CONFIG": str(config_dir),
           "BUILDX_CONFIG": os.environ.get("BUILDX_CONFIG") or str(host_dir / "buildx")}
    return env, secret_files


# --- running buildx ---------------------------------------------------------------------------

class BuildFailed(Exception):
    pass


async def run_streaming(argv: list[str], env: Mapping[str, str], stdin_text: str, on_line) -> tuple[int, list[str]]:
    """Run a command, passing each output line to `on_line`; returns (exit code, last lines)."""
    process = await asyncio.create_subprocess_exec(
        *argv, env=dict(env), limit=1 << 20,
        stdin=asyncio.subprocess.PIPE if stdin_text else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    if stdin_text:
        process.stdin.write(stdin_text.encode())
        await process.stdin.drain()
        process.stdin.close()
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    async for raw in process.stdout:
        line = raw.decode(errors="replace").rstrip()
        tail.append(line)
        await on_line(line)
    return await process.wait(), list(tail)


async def buildx_build(args: Mapping[str, Any], preview: bool, log: EngineLog, urn: str) -> dict[str, Any]:
    """One build; returns buildx's metadata (the exporter response). A failure carries the
    tail of buildx's output."""
    with tempfile.TemporaryDirectory(prefix="standin-docker-build-") as work:
        env, secret_files = prepare_build_dir(Path(work), args)
        metadata_file = os.path.join(work, "metadata.json")
        argv = buildx_argv(args, preview=preview, metadata_file=metadata_file, secret_files=secret_files)
        inline = (args.get("dockerfile") or {}).get("inline") or ""
        builder = (args.get("builder") or {}).get("name") or "buildx's current builder"
        await log.info(f"building with `docker buildx build` on {builder}{' (preview: no push)' if preview else ''}", urn)
        code, tail = await run_streaming(argv, env, inline, lambda line: log.status(line, urn))
        await log.status("", urn)
        if code != 0:
            raise BuildFailed(f"{LOG_PREFIX} docker buildx build failed (exit {code}); last lines:\n" + "\n".join(tail))
        return json.loads(Path(metadata_file).read_text()) if os.path.exists(metadata_file) else {}


def digest_of(metadata: Mapping[str, Any]) -> str:
    """The exporter's `containerimage.digest` (image.go: ExporterImageDigestKey)."""
    digest = metadata.get("containerimage.digest")
    return digest if isinstance(digest, str) else ""


# --- registry HTTP API (refresh and delete) ---------------------------------------------------

MANIFEST_TYPES = ", ".join((
    "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))


def registry_urls(domain: str) -> list[str]:
    """HTTPS first; plain HTTP only for loopback registries (like buildkitd's `http = true`)."""
    host = "registry-1.docker.io" if domain == DOCKER_HUB else domain
    urls = [f"https://{host}"]
    if re.match(r"^(localhost|127\.[0-9.]+|\[::1\])(:[0-9]+)?$", host):
        urls.append(f"http://{host}")
    return urls


def _bearer_token(challenge: str, credentials: tuple[str, str] | None) -> str | None:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    query = "&".join(f"{key}={params[key]}" for key in ("service", "scope") if key in params)
    request = urllib.request.Request(params.get("realm", "") + ("?" + query if query else ""))
    if credentials:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(credentials).encode()).decode())
    with urllib.request.urlopen(request, timeout=15) as response:
        body = json.load(response)
    return body.get("token") or body.get("access_token")


def manifest_call(method: str, ref: Reference, credentials: tuple[str, str] | None) -> int:
    """HEAD or DELETE a manifest by digest (or tag); returns the HTTP status."""
    last_error: Exception | None = None
    for base in registry_urls(ref.domain):
        url = f"{base}/v2/{ref.path}/manifests/{ref.digest or ref.tag or 'latest'}"
        headers = {"Accept": MANIFEST_TYPES}
        try:
            for _ in range(2):
                try:
                    request = urllib.request.Request(url, method=method, headers=headers)
                    with urllib.request.urlopen(request, timeout=15) as response:
                        return response.status
                except urllib.error.HTTPError as error:
                    challenge = error.headers.get("WWW-Authenticate", "")
                    if error.code != 401 or "Authorization" in headers:
                        return error.code
                    if challenge.lower().startswith("bearer"):
                        headers["Authorization"] = f"Bearer {_bearer_token(challenge, credentials)}"
                    elif credentials:
                        headers["Authorization"] = "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
                    else:
                        return error.code
        except (urllib.error.URLError, OSError, ValueError) as error:
            last_error = error
    raise ConnectionError(f"registry {ref.domain} unreachable: {last_error}")


def credentials_for(domain: str, args: Mapping[str, Any]) -> tuple[str, str] | None:
    for registry in args.get("registries") or []:
        if credential_host(str(registry.get("address", ""))) == credential_host(domain):
            return str(registry.get("username", "")), str(registry.get("password", ""))
    return None


# --- the resource -----------------------------------------------------------------------------

def apply_defaults(inputs: dict[str, PropertyValue]) -> dict[str, PropertyValue]:
    """What the real Check returns: `buildOnPreview` true, network `default`, the context
    `.` when none is given, and the Dockerfile `<context>/Dockerfile` for an on-disk context."""
    result = dict(inputs)
    result.setdefault("buildOnPreview", PropertyValue(True))
    result.setdefault("network", PropertyValue("default"))
    if result.get("context") is None or result["context"].value is None:
        result["context"] = PropertyValue({"location": PropertyValue(".")})
    args = plain_map(result)
    location = known_str((args.get("context") or {}).get("location"))
    dockerfile = args.get("dockerfile") or {}
    if location and os.path.isdir(location) and not dockerfile.get("location") and not dockerfile.get("inline"):
        fields = dict(result["dockerfile"].value) if "dockerfile" in result and result["dockerfile"].value else {}
        fields["location"] = PropertyValue(os.path.join(location, "Dockerfile"))
        result["dockerfile"] = PropertyValue(fields)
    return result


def check_failures(args: Mapping[str, Any]) -> list[CheckFailure]:
    failures = []
    if "push" not in args:
        failures.append(CheckFailure("push", "missing required property 'push'"))
    for index, tag in enumerate(args.get("tags") or []):
        if tag != UNKNOWN and parse_normalized(tag) is None:
            failures.append(CheckFailure(f"tags[{index}]", f"invalid reference format: {tag!r}"))
    location = (args.get("context") or {}).get("location")
    if isinstance(location, str) and location not in (UNKNOWN, "-") and not re.match(r"^[a-z]+://|^git@", location) \
            and not os.path.isdir(location):
        failures.append(CheckFailure("context.location", f"{location!r}: not a valid directory or URL"))
    dockerfile = args.get("dockerfile") or {}
    path = known_str(dockerfile.get("location"))
    if path and not dockerfile.get("inline") and os.path.isdir(known_str(location)) and not os.path.isfile(path):
        failures.append(CheckFailure("dockerfile.location", f"{path!r}: no such file"))
    if (args.get("push") or any("registry" in (e or {}) for e in args.get("exports") or [])) and not args.get("tags"):
        failures.append(CheckFailure("tags", "at least one tag or export name is needed when pushing to a registry"))
    return failures


def context_hash_of(args: Mapping[str, Any]) -> str:
    context = args.get("context") or {}
    named = {key: known_str((value or {}).get("location")) for key, value in (context.get("named") or {}).items()}
    # An unknown location hashes as "" (the real provider sees unknowns as zero values).
    return hash_build_context(known_str(context.get("location")),
                              known_str((args.get("dockerfile") or {}).get("location")), named)


def _local_export_missing(entry: Mapping[str, Any]) -> bool:
    """image.go Diff: a local export dir that is empty/missing or a tar export file that is gone."""
    local, tar = entry.get("local"), entry.get("tar")
    if isinstance(local, Mapping):
        dest = str(local.get("dest", ""))
        return not (os.path.isdir(dest) and os.listdir(dest))
    if isinstance(tar, Mapping):
        return not os.path.exists(str(tar.get("dest", "")))
    return False


def _without(mapping: Mapping[str, Any] | None, keys: Sequence[str]) -> dict[str, Any]:
    return {key: value for key, value in (mapping or {}).items() if key not in keys}


def same(old: Any, new: Any) -> bool:
    """Go's comparison of the decoded inputs: an absent value equals its zero value."""
    return (old or None) == (new or None)


def changed_properties(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """image.go Diff, property by property."""
    changed = [key for key in ("addHosts", "buildArgs", "buildOnPreview", "builder", "cacheFrom", "cacheTo",
                               "labels", "load", "network", "noCache", "platforms", "pull", "push", "ssh", "tags",
                               "target")
               if not same(olds.get(key), news.get(key))]
    old_context, new_context = olds.get("context") or {}, news.get("context") or {}
    if not same(old_context.get("location"), new_context.get("location")):
        changed.append("context.location")
    if not same(old_context.get("named"), new_context.get("named")):
        changed.append("context.named")
    if not same(olds.get("dockerfile"), news.get("dockerfile")):
        changed.append("dockerfile")
    if [export_arg(e) for e in olds.get("exports") or []] != [export_arg(e) for e in news.get("exports") or []]:
        changed.append("exports")
    exports = news.get("exports") or []
    changed += [f"exports[{index}]" for index, entry in enumerate(exports) if _local_export_missing(entry)]
    ignored = [key for key in news.get("ignoreSecretsInDiffCalculation") or []
               if key in (olds.get("secrets") or {}) and key in (news.get("secrets") or {})]
    if not same(_without(olds.get("secrets"), ignored), _without(news.get("secrets"), ignored)):
        changed.append("secrets")
    changed += registries_changed(olds.get("registries") or [], news.get("registries") or [])
    return changed


def registries_changed(olds: list[Mapping[str, Any]], news: list[Mapping[str, Any]]) -> list[str]:
    """A changed password alone is no change (short-lived registry tokens)."""
    if len(olds) != len(news):
        return ["registries"]
    for index, (old, new) in enumerate(zip(olds, news, strict=True)):
        if (old.get("address"), old.get("username")) != (new.get("address"), new.get("username")):
            return [f"registries[{index}]"]
    return []


def rebuild_forced(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """`pull` with an export always rebuilds; so does a changed build context."""
    exported = bool(news.get("exports") or news.get("push") or news.get("load"))
    return (bool(news.get("pull")) and exported) or context_hash_of(news) != olds.get("contextHash")


def preview_unknown_outputs(args: Mapping[str, Any], olds: Mapping[str, Any] | None) -> bool:
    """pulumi-go-provider markComputed in a preview: outputs that do not mirror an input are
    unknown on create, and on update when any input is unknown or changed."""
    if olds is None:
        return True
    return any(has_unknown(value) or (key in olds and olds[key] != value) for key, value in args.items())


class ImageProvider(Provider):
    """`docker-build:index:Image` through `docker buildx build`."""

    def __init__(self, log: EngineLog):
        self.log = log

    async def configure(self, request: ConfigureRequest) -> ConfigureResponse:
        # No output values on the wire: the SDK cannot unmarshal an unknown one.
        return ConfigureResponse(accept_secrets=True, supports_preview=True)

    async def check(self, request: CheckRequest) -> CheckResponse:
        if resource_token(request.type) != IMAGE_TOKEN:
            return CheckResponse(request.new_inputs, [CheckFailure("", f"{LOG_PREFIX} has no resource {resource_token(request.type)}")])
        inputs = apply_defaults(request.new_inputs)
        return CheckResponse(inputs=inputs, failures=check_failures(plain_map(inputs)))

    async def diff(self, request: DiffRequest) -> DiffResponse:
        olds, news = plain_map(request.old_state), plain_map(request.new_inputs)
        changed = changed_properties(olds, news)
        if rebuild_forced(olds, news):
            changed.append("contextHash")
        detailed = {key: PropertyDiff(PropertyDiffKind.UPDATE, input_diff=False) for key in changed}
        return DiffResponse(changes=bool(changed), detailed_diff=detailed)

    async def create(self, request: CreateRequest) -> CreateResponse:
        resource_id, outputs = await self._build(request.urn, request.name, request.properties, request.preview, None)
        return CreateResponse(resource_id=resource_id, properties=outputs)

    async def update(self, request: UpdateRequest) -> UpdateResponse:
        olds = plain_map(request.olds)
        _, outputs = await self._build(request.urn, request.name, request.news, request.preview, olds)
        return UpdateResponse(properties=outputs)

    async def _build(self, urn: str, name: str, inputs: Mapping[str, PropertyValue], preview: bool,
                     olds: Mapping[str, Any] | None) -> tuple[str, dict[str, PropertyValue]]:
        """image.go Create: ref defaults to a tag, the context is hashed, then maybe a build."""
        args = plain_map(inputs)
        tags = [tag for tag in args.get("tags") or [] if tag != UNKNOWN]
        computed = {"ref": default_ref(tags), "digest": "", "contextHash": context_hash_of(args)}
        if preview and not args.get("buildOnPreview", True):
            await self.log.info("preview: not building (buildOnPreview is false)", urn)
        elif preview and has_unknown(args):
            await self.log.warning("Skipping preview build because some inputs are unknown.", urn)
        else:
            computed["digest"] = digest_of(await buildx_build(args, preview, self.log, urn))
        resource_id = computed["digest"] or name
        if computed["digest"]:
            computed["ref"] = digest_ref(tags, computed["digest"]) or computed["ref"]
        if preview and preview_unknown_outputs(args, olds):
            computed = {key: UNKNOWN for key in computed}
        return resource_id, {**self._echo(inputs), **{key: wire(value) for key, value in computed.items()}}

    @staticmethod
    def _echo(inputs: Mapping[str, PropertyValue]) -> dict[str, PropertyValue]:
        """Inputs are outputs too; `secrets` is always secret (`provider:"secret"`)."""
        echoed = {key: without_dependencies(value) for key, value in inputs.items()}
        if "secrets" in echoed:
            echoed["secrets"] = echoed["secrets"].with_secret(True)
        return echoed

    async def read(self, request: ReadRequest) -> ReadResponse:
        """image.go Read: a pushed image keeps the tags whose `tag@digest` a registry still
        serves; with none left the resource is gone. Anything else is returned as it is."""
        state = plain_map(request.properties)
        if not is_exported(state) or not state.get("digest"):
            return ReadResponse(request.resource_id, request.properties, request.inputs)
        kept = await asyncio.to_thread(self._tags_still_served, state, request.urn)
        if state.get("tags") and not kept:
            await self.log.warning("no pushed tag is served any more: the image is gone", request.urn)
            return ReadResponse("", request.properties, request.inputs)
        properties = dict(request.properties)
        properties["tags"] = wire(kept)
        return ReadResponse(request.resource_id, properties, request.inputs)

    def _tags_still_served(self, state: Mapping[str, Any], urn: str) -> list[str]:
        kept = []
        for tag in state.get("tags") or []:
            ref = add_digest(tag, state["digest"])
            if ref is None:
                kept.append(tag)
                break  # as the real provider does
            parsed = parse_reference(ref)
            try:
                if manifest_call("HEAD", parsed, credentials_for(parsed.domain, state)) == 200:
                    kept.append(tag)
            except ConnectionError as error:
                print(f"{LOG_PREFIX} {error}", file=sys.stderr)
        return kept

    async def delete(self, request: DeleteRequest) -> None:
        """image.go Delete: without a digest remove the local ref; else each `repo@digest`,
        locally (best effort) and from its registry (errors ignored, as the real one does).
        Unlike the real provider, registries are only asked when the image was pushed: a
        loaded image's `docker.io/...@digest` was never there (and this machine is offline)."""
        state = plain_map(request.properties)
        digest = state.get("digest") or ""
        if not digest:
            await self._remove_local(state.get("ref") or "")
            return
        targets = sorted({f"{parsed.name}@{digest}" for parsed in
                          filter(None, (parse_normalized(tag) for tag in state.get("tags") or []))})
        for target in targets:
            await self._remove_local(target)
            if not is_exported(state):
                continue
            parsed = parse_reference(target)
            try:
                status = await asyncio.to_thread(manifest_call, "DELETE", parsed, credentials_for(parsed.domain, state))
                await self.log.info(f"registry DELETE {target}: HTTP {status}", request.urn)
            except ConnectionError as error:
                await self.log.warning(str(error), request.urn)

    @staticmethod
    async def _remove_local(ref: str) -> None:
        if not ref:
            return
        process = await asyncio.create_subprocess_exec(
            shutil.which("docker") or "docker", "image", "rm", "--force", ref,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await process.wait()


def engine_address(argv: list[str]) -> str | None:
    """The engine's address: the first argument that is not a flag."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main() -> None:
    log = EngineLog(engine_address(sys.argv[1:]), LOG_PREFIX)
    server.main(sys.argv[1:], VERSION, ImageProvider(log))


if __name__ == "__main__":
    main()
