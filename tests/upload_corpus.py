"""A hostile corpus for the upload pipeline, generated in memory (no binary blobs in the repository)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, PngImagePlugin

GPS = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)}
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N"/>'
    b"</rdf:RDF></x:xmpmeta>"
)
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
HOSTILE_NAME = "../../" + "ü" * 150 + "<img src=x onerror=alert(1)>**bold**" + "x" * 120 + ".jpg"


def exif_with_gps(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.IFD.GPSInfo] = GPS
    return exif


def picture(size: tuple[int, int] = (64, 48)) -> Image.Image:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1] // 2))  # blue top-left: shows orientation
    return image


def jpeg_gps(size: tuple[int, int] = (64, 48), orientation: int = 6) -> bytes:
    """A JPEG with EXIF (orientation, make, GPS), an XMP packet with a location and a comment."""
    out = io.BytesIO()
    picture(size).save(out, "JPEG", exif=exif_with_gps(orientation).tobytes(), comment=b"secret comment")
    data = out.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + XMP
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + data[2:]


def png_gps() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    info.add_text("Comment", "secret comment")
    out = io.BytesIO()
    picture().save(out, "PNG", exif=exif_with_gps(), pnginfo=info)
    return out.getvalue()


def webp_gps() -> bytes:
    out = io.BytesIO()
    picture().save(out, "WEBP", exif=exif_with_gps(), xmp=XMP, lossless=True)
    return out.getvalue()


def gif_xmp() -> bytes:
    out = io.BytesIO()
    picture().convert("P").save(out, "GIF", comment=b"secret comment")
    data = out.getvalue()
    blocks = b"".join(bytes([len(XMP[i : i + 255])]) + XMP[i : i + 255] for i in range(0, len(XMP), 255))
    ext = b"\x21\xff\x0bXMP DataXMP" + blocks + b"\x00"
    at = data.index(b"\x2c")  # before the first image descriptor
    return data[:at] + ext + data[at:]


def avif_gps() -> bytes:
    out = io.BytesIO()
    picture().save(out, "AVIF", exif=exif_with_gps(orientation=1).tobytes(), xmp=XMP, quality=80)
    return out.getvalue()


def plain(fmt: str, size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    image = picture(size)
    image.save(out, fmt, **({"quality": 80} if fmt in ("JPEG", "WEBP", "AVIF") else {}))
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_then_garbage() -> bytes:
    """A valid PNG signature and IHDR, then bytes that are not image data."""
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", b"this is not zlib data at all" * 4) + b"garbage"


def png_bomb(side: int = 20000) -> bytes:
    """A real decompression bomb: side × side 1-bit pixels, all zero (~50 KB compressed at 20000)."""
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + ihdr + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = plain("JPEG", (400, 300))
    return data[: len(data) * 2 // 3]


def jpeg_then_zip() -> bytes:
    """A polyglot: a complete JPEG followed by a ZIP archive. The JPEG decodes, so it may be stored."""
    return plain("JPEG") + b"PK\x03\x04" + b"\x00" * 26 + b"payload.html<script>alert(1)</script>"
