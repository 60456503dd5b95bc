"""Every pin of requirements-addon.txt installs from a wheel on the add-on image's Python, on
both architectures, so the image builds on a Raspberry Pi without a compiler.

The base image is Alpine (musl libc): pip must find a ``musllinux`` wheel (or a pure-Python
one) for each pinned package. pip matches ``--platform`` tags exactly, so both the musllinux
1.1 and 1.2 tags are given (Alpine 3.2x has musl 1.2, which runs either). The Python version
is the one the Dockerfile's ``FROM ghcr.io/home-assistant/base-python:<python>-alpine<v>``
names. Wheels come from PyPI (through pip's cache after the first run).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHES = ("aarch64", "x86_64")


def image_python() -> str:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    match = re.search(r"^FROM ghcr\.io/home-assistant/base-python:(3\.\d+)-alpine", text, re.M)
    assert match is not None, "the Dockerfile does not build from base-python"
    return match.group(1)


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements-addon.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            found[re.sub(r"[-_.]+", "_", name).lower()] = version
    return found


@pytest.mark.timeout(600)
@pytest.mark.parametrize("arch", ARCHES)
def test_every_pin_has_a_wheel_for_the_image(arch: str, tmp_path: Path) -> None:
    python = image_python()
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--only-binary=:all:", "--implementation", "cp", "--python-version", python,
            "--platform", f"musllinux_1_1_{arch}", "--platform", f"musllinux_1_2_{arch}",
            "--requirement", str(ROOT / "requirements-addon.txt"), "--dest", str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=540,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = {path.name for path in tmp_path.iterdir()}
    assert all(name.endswith(".whl") for name in wheels), wheels
    expected = pins()
    for name, version in expected.items():
        matching = [w for w in wheels if w.lower().startswith(f"{name}-{version}-".lower())]
        assert len(matching) == 1, (name, version, sorted(wheels))
        tags = matching[0].removesuffix(".whl").split("-")[-3:]
        interpreter, _, platform = tags
        # A compiled wheel is for this Python (or the stable ABI) and musl on this machine.
        assert platform == "any" or ("musllinux" in platform and arch in platform), matching[0]
        pythons = interpreter.split(".")
        assert any(tag == "py3" or tag.startswith("cp3") for tag in pythons), matching
    assert len(wheels) == len(expected)
