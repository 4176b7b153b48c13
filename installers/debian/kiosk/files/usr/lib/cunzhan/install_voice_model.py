"""Install a Vosk speech model from a local .zip file into the kiosk's voice-model folder (no network needed).

    /opt/cunzhan/python/bin/python3 -I install_voice_model.py MODEL.zip [--dest /var/lib/cunzhan/voice-model]

The zip may hold the model's folders (am/, conf/, graph/, ivector/) at its top or inside one folder, as the official
vosk-model-small-cn-*.zip files do. The model is unpacked next to the destination and then swapped in with renames,
so the kiosk never sees a half-written model. Runs with the package's own Python (the system may have none) and
its standard library only, because it is called from the package's postinst.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

DEFAULT_DEST = "/var/lib/cunzhan/voice-model"
# What every Vosk model folder holds; a zip without them is not a model.
REQUIRED = ("am/final.mdl", "conf/model.conf")


class ModelError(Exception):
    """The file is not a usable Vosk model; the message says why, in Chinese and English."""


def model_root(names: list[str]) -> str:
    """The folder inside the zip that holds am/final.mdl and conf/model.conf ('' for the top)."""
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise ModelError(f"压缩包里有不安全的路径 / unsafe path in the zip: {name}")
    present = set(names)
    for prefix in ["", *sorted({n.split("/", 1)[0] + "/" for n in names if "/" in n})]:
        if all(prefix + req in present for req in REQUIRED):
            return prefix
    raise ModelError("这个文件不是 Vosk 语音模型（缺少 am/final.mdl 或 conf/model.conf） / "
                     "not a Vosk model: am/final.mdl and conf/model.conf are missing")


def install(zip_path: Path, dest: Path) -> Path:
    """Unpack the model in `zip_path` into `dest`, replacing any model there. Returns `dest`."""
    if not zip_path.is_file():
        raise ModelError(f"找不到文件 / no such file: {zip_path}")
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"文件不是 zip 压缩包 / not a zip file: {zip_path}") from exc
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
        prefix = model_root(names)
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".voice-model-new-", dir=dest.parent))
        try:
            for name in names:
                if not name.startswith(prefix):
                    continue
                target = staging / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            for path in [staging, *staging.rglob("*")]:
                # Root owns the model; the kiosk user only reads it.
                path.chmod(0o755 if path.is_dir() else 0o644)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    old = dest.with_name(dest.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        dest.rename(old)
    staging.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cunzhan-install-voice-model",
                                     description="Install a Vosk Chinese model from a local .zip for the kiosk.")
    parser.add_argument("zip", type=Path, help="the model's .zip file, e.g. vosk-model-small-cn-0.22.zip")
    parser.add_argument("--dest", type=Path, default=Path(DEFAULT_DEST), help=f"where to put it ({DEFAULT_DEST})")
    args = parser.parse_args(argv)
    try:
        dest = install(args.zip, args.dest)
    except ModelError as exc:
        print(f"cunzhan-install-voice-model: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"cunzhan-install-voice-model: 安装失败 / could not install: {exc}", file=sys.stderr)
        return 1
    print(f"已安装语音模型：{dest} / voice model installed in {dest}")
    print("自助机下次启动时会使用它（sudo cunzhan-kiosk-restart）/ the kiosk uses it from its next start")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
