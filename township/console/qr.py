"""Enrolment codes as QR codes, inline SVG so the page needs no image files and no network."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def qr_svg(text: str) -> str:
    """`text` as an SVG QR code (path-based, scalable, black on white), ready to place inline in HTML."""
    qr = qrcode.QRCode(
        border=4,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=10,
    )
    qr.add_data(text)
    qr.make(fit=True)
    image = qr.make_image()
    svg: str = image.to_string(encoding="unicode")
    # Drop the XML declaration: the SVG is embedded inside an HTML page.
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2 :]
    return svg.replace("<svg ", '<svg role="img" aria-label="QR" class="qr" ', 1)
