"""How libav may read a file of the library, which anyone who can write there may have crafted: as a local
file only (no network, no ``concat:``, ``subfile:`` or ``data:`` protocol), and only with the demuxers of the
containers the scanner takes for videos. Playlists and lists of files (concat, HLS, DASH, IMF, image
sequences) are not among them: such a "video" would have libav open other files, outside the library too."""

from __future__ import annotations

import sys

PROTOCOLS = "file"
# The demuxers of the scanner's video extensions (``mov`` reads .mp4/.m4v/.mov/.3gp/.f4v, ``asf`` .wmv,
# ``mpeg`` .mpg/.vob, ``mpegts`` .ts/.m2ts/.mts, ``mpegvideo`` .m2v, ``ogg`` .ogm/.ogv, ``rm`` .rmvb), and the
# raw streams a mislabelled file turns out to be. None of them opens another file: the ``mov`` demuxer's
# external references stay off (its ``enable_drefs`` defaults to off, and nothing here turns it on).
DEMUXERS = (
    "mov",
    "matroska",
    "avi",
    "asf",
    "flv",
    "mpegts",
    "mpeg",
    "mpegvideo",
    "mxf",
    "ogg",
    "rm",
    "dv",
    "nut",
    "h264",
    "hevc",
    "m4v",
)
# For ``av.open(..., container_options=OPTIONS)``: checked by libav for the file and for anything it opens.
OPTIONS = {"protocol_whitelist": PROTOCOLS, "format_whitelist": ",".join(DEMUXERS)}


def demuxer(container: str | None) -> str | None:
    """The demuxer the scanner read the file with (its probe's ``container``, e.g. ``mov,mp4,m4a,…``), if it
    is one of ours."""
    name = (container or "").split(",")[0]
    return name if name in DEMUXERS else None


def input_args(container: str | None = None) -> list[str]:
    """ffmpeg's options for one input read from the library, before its ``-i``: the restrictions above, and
    the demuxer the scanner found, when known (a descriptor's path has no extension to guess from)."""
    args = ["-protocol_whitelist", PROTOCOLS, "-format_whitelist", OPTIONS["format_whitelist"]]
    name = demuxer(container)
    return [*args, "-f", name] if name else args


def descriptor_path(fd: int) -> str:
    """A path that opens the very file ``fd`` holds, whatever its name leads to now: in this process, or in
    a child given the descriptor under the same number (``pass_fds``). On Linux it is a link to the open
    file itself, not to a name, so a name renamed or swapped for a symlink since cannot redirect it; and the
    file opens anew, with an offset of its own, so libav can seek in it (as the MP4 and Matroska muxers do
    to write their index)."""
    return f"/proc/self/fd/{fd}" if sys.platform == "linux" else f"/dev/fd/{fd}"
