"""Draw the add-on's icon.png (128x128) and logo.png (250x100) with the standard library only.

Run from the repository root: python3 scripts/addon_images.py
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

Pixel = tuple[int, int, int, int]
ORANGE: Pixel = (247, 147, 26, 255)  # bitcoin orange
SUN: Pixel = (255, 214, 64, 255)
NAVY: Pixel = (22, 38, 66, 255)
CLEAR: Pixel = (0, 0, 0, 0)


def png(width: int, height: int, pixel: Callable[[float, float], Pixel]) -> bytes:
    """An RGBA PNG; ``pixel(x, y)`` is sampled at each pixel's centre."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            rows.extend(pixel(x + 0.5, y + 0.5))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def rounded_square(x: float, y: float, size: float, radius: float) -> bool:
    dx = max(radius - x, 0.0, x - (size - radius))
    dy = max(radius - y, 0.0, y - (size - radius))
    return dx * dx + dy * dy <= radius * radius


def sun_and_chip(x: float, y: float, cx: float, cy: float, r: float) -> Pixel | None:
    """A sun (disc and eight rays) above a miner's chip (a square with pins)."""
    dx, dy = x - cx, y - cy
    dist = math.hypot(dx, dy)
    if dist <= r:
        return SUN
    angle = math.atan2(dy, dx) % (math.pi / 4)
    if r * 1.25 <= dist <= r * 1.8 and min(angle, math.pi / 4 - angle) < 0.12:
        return SUN
    # The chip, below the sun.
    chip_top = cy + r * 2.0
    if cx - r * 1.1 <= x <= cx + r * 1.1 and chip_top <= y <= chip_top + r * 1.2:
        return NAVY
    pins = cx - r * 1.1 <= x <= cx + r * 1.1 and (x - cx) % (r * 0.55) < r * 0.2
    if pins and chip_top - r * 0.3 <= y < chip_top:
        return NAVY
    return None


def icon(x: float, y: float) -> Pixel:
    if not rounded_square(x, y, 128, 24):
        return CLEAR
    return sun_and_chip(x, y, 64, 42, 17) or ORANGE


def logo(x: float, y: float) -> Pixel:
    if not (rounded_square(x, y, 100, 18) or (50 <= x <= 250 and 0 <= y <= 100)):
        return CLEAR
    if x > 112:
        # Three bars rising left to right: power put to work.
        for i, left in enumerate((122, 164, 206)):
            if left <= x <= left + 30 and y >= 80 - 22 * (i + 1):
                return NAVY
        return ORANGE
    return sun_and_chip(x, y, 50, 33, 13) or ORANGE


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    (root / "icon.png").write_bytes(png(128, 128, icon))
    (root / "logo.png").write_bytes(png(250, 100, logo))


if __name__ == "__main__":
    main()
