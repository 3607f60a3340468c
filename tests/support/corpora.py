"""Real code nobody here wrote, fetched from the registries at test time and cached on disk.

    pypi_sdist("flask", "3.0.3")              the unpacked sdist (PyPI's JSON API, sha256 checked)
    npm_package("express", "4.21.2")          the unpacked `npm pack` tarball (the registry's, integrity checked)
    debian_package("golang-github-go-chi-chi-dev")   the unpacked .deb (`apt-get download`)
    debian_package("librust-axum-dev", "trixie")     … from another Debian suite (a private list)
    git_repo_of(source, dest)                 a one-commit git repository holding a copy of `source`
    release_history("attrs", versions, dest)  successive sdists committed in order: a real history

Downloads go to $WARMER_CORPUS_CACHE (default ~/.cache/warmer-corpora), written under a lock and
renamed into place, so concurrent test processes fetch each archive once and never see half of one.
Benchmarks import this module too.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tests.support.gitrepo import commit, git

CACHE = Path(os.environ.get("WARMER_CORPUS_CACHE") or Path.home() / ".cache" / "warmer-corpora")
TIMEOUT = 120


class CorpusUnavailable(RuntimeError):
    """The registry could not deliver the archive (network, unknown name or version)."""


@contextlib.contextmanager
def _locked(name: str) -> Iterator[Path]:
    """The cache folder for `name`, held under an exclusive lock while the caller fills it."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield CACHE / name


def _download(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "warmer-tests"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.read()
    except OSError as exc:
        raise CorpusUnavailable(f"cannot fetch {url}: {exc}") from exc


def _json(url: str) -> dict:
    return json.loads(_download(url))


def _pypi_project(name: str) -> dict:
    """The project's JSON from PyPI's API. Only the project-level document is used: some mirrors
    serve no per-version documents and give file URLs relative to the document."""
    url = f"https://pypi.org/pypi/{name}/json"
    project = _json(url)
    for files in project["releases"].values():
        for file in files:
            file["url"] = urllib.parse.urljoin(url, file["url"])
    return project


def _unpack(archive: Path, into: Path) -> None:
    """Unpack a tar or zip archive; members escaping `into` are refused (archives come from outside)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise CorpusUnavailable(f"{archive.name}: unsafe member {member!r}")
            zipped.extractall(into)
        return
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")


def _single_child(folder: Path) -> Path:
    children = [child for child in folder.iterdir() if not child.name.startswith(".")]
    return children[0] if len(children) == 1 and children[0].is_dir() else folder


def _fill(target: Path, archive_name: str, data: bytes) -> None:
    """Unpack `data` into `target` atomically: a crash leaves no half-filled folder behind."""
    staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".staging-"))
    try:
        archive = staging / archive_name
        archive.write_bytes(data)
        (staging / "tree").mkdir()
        _unpack(archive, staging / "tree")
        (staging / "tree").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def pypi_versions(name: str) -> list[str]:
    """Every release of `name` that has an sdist, oldest first (by upload time)."""
    releases = _pypi_project(name)["releases"]
    dated = []
    for version, files in releases.items():
        sdists = [f for f in files if f["packagetype"] == "sdist" and not f.get("yanked")]
        if sdists:
            dated.append((min(f["upload_time_iso_8601"] for f in sdists), version))
    return [version for _, version in sorted(dated)]


def pypi_sdist(name: str, version: str) -> Path:
    """The unpacked source distribution of `name==version` from PyPI."""
    with _locked(f"pypi-{name}-{version}") as target:
        if not target.exists():
            files = _pypi_project(name)["releases"].get(version)
            if files is None:
                raise CorpusUnavailable(f"PyPI has no release {version} of {name}")
            sdist = next((f for f in files if f["packagetype"] == "sdist"), None)
            if sdist is None:
                raise CorpusUnavailable(f"{name} {version} has no sdist on PyPI")
            data = _download(sdist["url"])
            if hashlib.sha256(data).hexdigest() != sdist["digests"]["sha256"]:
                raise CorpusUnavailable(f"{sdist['filename']}: sha256 does not match PyPI's")
            _fill(target, sdist["filename"], data)
        return _single_child(target)


def npm_package(name: str, version: str) -> Path:
    """The unpacked tarball `npm pack name@version` would fetch (its `package/` folder)."""
    with _locked(f"npm-{name.replace('/', '__')}-{version}") as target:
        if not target.exists():
            meta = _json(f"https://registry.npmjs.org/{name.replace('/', '%2F')}/{version}")
            dist = meta["dist"]
            data = _download(dist["tarball"])
            algorithm, _, digest = dist.get("integrity", "").partition("-")
            if algorithm in ("sha512", "sha256", "sha1"):
                if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != digest:
                    raise CorpusUnavailable(f"{name}@{version}: integrity does not match the registry's")
            elif hashlib.sha1(data).hexdigest() != dist["shasum"]:
                raise CorpusUnavailable(f"{name}@{version}: shasum does not match the registry's")
            _fill(target, f"{name.replace('/', '__')}-{version}.tgz", data)
        return _single_child(target)


def _apt_options(suite: str) -> list[str]:
    """apt-get options for a private package list of another Debian suite (the machine's own apt
    configuration is left alone), refreshed once into the cache."""
    root = CACHE / f"apt-{suite}"
    with _locked(f"apt-{suite}") as _:
        if not (root / "lists").is_dir():
            for folder in ("lists/partial", "cache/archives/partial"):
                (root / folder).mkdir(parents=True, exist_ok=True)
            (root / "sources.list").write_text(f"deb http://deb.debian.org/debian {suite} main\n")
        options = [
            f"-oDir::Etc::SourceList={root / 'sources.list'}",
            "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={root / 'lists'}",
            f"-oDir::Cache={root / 'cache'}",
        ]
        if not any((root / "lists").glob("*Packages*")):
            updated = subprocess.run(
                ["apt-get", "-q", *options, "update"], capture_output=True, text=True, timeout=600
            )
            if updated.returncode != 0:
                raise CorpusUnavailable(f"apt-get update ({suite}): {updated.stderr.strip()}")
    return options


def debian_package(name: str, suite: str | None = None) -> Path:
    """The unpacked binary package `name` (Debian's -dev packages carry Go, Rust and Java sources),
    from the machine's own suite, or from another `suite` (e.g. "trixie") through a private list."""
    with _locked(f"deb-{name}" + (f"-{suite}" if suite else "")) as target:
        if not target.exists():
            options = _apt_options(suite) if suite else []
            staging = Path(tempfile.mkdtemp(dir=CACHE, prefix=".staging-"))
            try:
                fetched = subprocess.run(
                    ["apt-get", *options, "download", name],
                    cwd=staging,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if fetched.returncode != 0:
                    raise CorpusUnavailable(f"apt-get download {name}: {fetched.stderr.strip()}")
                (deb,) = staging.glob("*.deb")
                subprocess.run(["dpkg-deb", "-x", str(deb), str(staging / "tree")], check=True)
                (staging / "tree").rename(target)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        return target


_NOT_SOURCE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git")


def git_repo_of(source: Path, dest: Path, *, message: str | None = None) -> Path:
    """A git repository at `dest` whose one commit holds a copy of `source`'s files."""
    shutil.copytree(source, dest, ignore=_NOT_SOURCE, symlinks=True)
    git(dest, "init", "--quiet", "-b", "main")
    commit(dest, message or f"import {source.name}")
    return dest


def release_history(name: str, versions: list[str], dest: Path) -> tuple[Path, list[str]]:
    """A git repository whose commits are the sdists of `versions`, in order: each commit is a real
    release-to-release change (files added, modified, renamed and deleted as upstream did)."""
    dest.mkdir(parents=True)
    git(dest, "init", "--quiet", "-b", "main")
    shas = []
    for version in versions:
        for child in dest.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        source = pypi_sdist(name, version)
        shutil.copytree(source, dest, ignore=_NOT_SOURCE, symlinks=True, dirs_exist_ok=True)
        shas.append(commit(dest, f"{name} {version}"))
    return dest, shas
