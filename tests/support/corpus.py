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


# ---- formats Pillow knows and this app does not accept, whose decoders raise more than OSError


def dds_unimplemented() -> bytes:
    """A DDS header with no pixel-format flags: Pillow's DDS decoder raises NotImplementedError on open."""
    header = struct.pack("<7I", 124, 0x1007, 4, 4, 0, 0, 0) + b"\x00" * 44
    pixel_format = struct.pack("<8I", 32, 0, 0, 0, 0, 0, 0, 0)
    return b"DDS " + header + pixel_format + b"\x00" * 20 + b"\x00" * 64


def fli_bomb(side: int = 12288) -> bytes:
    """An FLI animation header of side × side (151 MP at 12288): Pillow warns DecompressionBombWarning."""
    header = struct.pack("<IHHHHHH", 128, 0xAF11, 1, side, side, 8, 0) + b"\x00" * 112
    return header + struct.pack("<IH", 16, 0xF1FA) + b"\x00" * 10


def gif_growing_frames(first: int = 1, later: int = 2000, frames: int = 2) -> bytes:
    """An animated GIF whose logical screen and first frame are first × first pixels and whose later
    frames are later × later (Pillow enlarges the canvas when it reaches them)."""
    small, big = io.BytesIO(), io.BytesIO()
    Image.new("P", (first, first), 0).save(small, "GIF")
    Image.new("P", (later, later), 1).save(big, "GIF")
    head = small.getvalue()[:-1]  # everything up to the trailer
    packed = big.getvalue()[10]
    table = 3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0
    frame = big.getvalue()[13 + table : -1]  # extensions + image descriptor + data of the big frame
    if packed & 0x80:  # give the big frame its own (local) colour table
        at = frame.index(b"\x2c")
        flags = frame[at + 9] | 0x80 | (packed & 7)
        frame = frame[: at + 9] + bytes([flags]) + big.getvalue()[13 : 13 + table] + frame[at + 10 :]
    return head + frame * (frames - 1) + b"\x3b"


def png_raw_exif_profile(orientation: int = 6, size: tuple[int, int] = (64, 48)) -> bytes:
    """A PNG whose EXIF (orientation and GPS) is kept as ImageMagick does: hex in a zTXt text chunk
    named "Raw profile type exif", with no eXIf chunk."""
    exif = exif_with_gps(orientation).tobytes()  # b"Exif\0\0" + TIFF data, as ImageMagick writes it
    hexed = exif.hex()
    lines = "\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    text = f"\nexif\n{len(exif):8d}\n{lines}\n"
    info = PngImagePlugin.PngInfo()
    info.add_text("Raw profile type exif", text, zip=True)
    out = io.BytesIO()
    picture(size).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jpeg_xmp_orientation(orientation: int = 6) -> bytes:
    """A JPEG with no EXIF whose XMP says tiff:Orientation (Pillow reads it as the orientation)."""
    xmp = (
        b'http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="' + str(orientation).encode() + b'"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    data = plain("JPEG")
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp + data[2:]


def jpeg_iptc_location(city: bytes = b"Budapest", country: bytes = b"Hungary") -> bytes:
    """A JPEG with a Photoshop APP13 segment whose IPTC records name a city and a country."""
    records = ((90, city), (101, country))  # IPTC 2:90 City, 2:101 Country
    iptc = b"".join(b"\x1c\x02" + bytes([tag]) + struct.pack(">H", len(v)) + v for tag, v in records)
    resource = b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(iptc)) + iptc + (b"\x00" if len(iptc) % 2 else b"")
    app13 = b"Photoshop 3.0\x00" + resource
    data = plain("JPEG")
    return data[:2] + b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13 + data[2:]
