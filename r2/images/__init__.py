"""Image checks and metadata removal: identify by content, enforce limits, strip GPS (or all) metadata.

Nothing here talks to the bucket, so every upload path (the Upload page, the command line, direct
browser uploads checked afterwards) uses the same rules. `clean` works on bytes in memory (the app's
upload path, which holds them anyway); `clean_file` gives the same verdicts and the same cleaned bytes
file to file, for a direct upload downloaded to a temporary file: Pillow reads the file lazily and the
metadata walkers (one module per format) read it through a small window, so memory holds the decoded
pixels (bounded by the pixel cap, about 4 bytes a pixel) and small buffers, never the file. Pillow
itself keeps the metadata it parses (JPEG APP/COM segments, PNG text and private chunks), normally a
few KiB.

How each format is cleaned (pixels are never touched unless said so):
- JPEG (and multi-picture JPEGs, which Pillow calls MPO): the marker segments are walked and kept
  only when of a known-safe kind (`r2.images.jpeg_meta`): JFIF, EXIF, ICC, Adobe, Photoshop resources. The
  EXIF block is edited in place: GPS IFDs linked from any IFD, XMP/IPTC inside EXIF and unknown entries
  are unlinked and zeroed while nothing else moves, so IFD1 (the thumbnail) and maker notes stay valid.
  Photoshop blocks keep layout resources and IPTC without place names (XMP resource 0x0424 goes). XMP
  segments, vendor blocks (a FLIR APP1 holds GPS), multi-picture (MPF) indexes, stray bytes between
  segments (skipped as libjpeg does) and anything after the end-of-image marker (an MPO's secondary
  pictures, which carry their own EXIF; trailing data is where polyglots hide) are dropped. The
  compressed image data is copied byte for byte.
- PNG: chunks are walked; the eXIf chunk is rebuilt without GPS, XMP (`iTXt XML:com.adobe.xmp`) and
  ImageMagick's raw EXIF/XMP profiles in text chunks are dropped, data after IEND is dropped.
- WebP: RIFF chunks are walked; the EXIF chunk is rebuilt without GPS, the XMP chunk dropped and the
  VP8X flags and RIFF size fixed.
- GIF: blocks are walked; XMP application extensions are dropped (GIF has no EXIF); data after the
  trailer is dropped.
- HEIC/HEIF: converted to JPEG (`r2.images.heic`: browsers other than Safari cannot show HEIC), and the
  JPEG is then cleaned as above; the stored object is that JPEG.
- AVIF: its metadata lives inside ISOBMFF item boxes whose offsets would all have to be rewritten, so
  an AVIF that carries EXIF GPS or XMP is re-encoded by Pillow without them (lossy, slower); an AVIF
  without such metadata is stored byte for byte.
With strip mode "all", comments and text chunks go too, and EXIF is reduced to the orientation tag
alone (dropping it would show photos sideways). ICC colour profiles are kept: they are not personal.
Every cleaned file is opened again and checked (no GPS, no XMP; for JPEG, Pillow's own parsers read
every segment, IFD, Photoshop resource and IPTC field): if anything remains, it is refused.

Where each part lives: `model` (formats, policy, results), `source` (reading within the size limit,
and `ByteView`/`CleanPlan`: bounded access to the bytes and the cleaned file as a plan), `identify`
(content, limits, decoding), one walker per format (`jpeg` with `jpeg_meta`, `png`, `webp`, `gif`,
`avif`; `exif` for the EXIF they share), `strip`, `verify`, `heic` (the conversion) and `cleaning`
(`clean`, `clean_file`: the whole check).
"""

from r2.images.cleaning import clean, clean_file
from r2.images.identify import inspect
from r2.images.model import (
    FORMAT_TYPES,
    MAX_FRAME_PIXELS_FACTOR,
    MAX_FRAMES,
    CleanFile,
    CleanImage,
    ImageInfo,
    ImagePolicy,
    ImageRejected,
    StripMode,
    stored_format,
)
from r2.images.source import CHUNK, check_size, read_source
from r2.images.strip import strip_avif, strip_gif, strip_jpeg, strip_metadata, strip_png, strip_webp

__all__ = [
    "CHUNK",
    "FORMAT_TYPES",
    "MAX_FRAMES",
    "MAX_FRAME_PIXELS_FACTOR",
    "CleanFile",
    "CleanImage",
    "ImageInfo",
    "ImagePolicy",
    "ImageRejected",
    "StripMode",
    "check_size",
    "clean",
    "clean_file",
    "inspect",
    "read_source",
    "stored_format",
    "strip_avif",
    "strip_gif",
    "strip_jpeg",
    "strip_metadata",
    "strip_png",
    "strip_webp",
]
