"""Which ffmpeg encoder a hardware class uses for a target codec, and its quality options.

Pure data and argv fragments: the only place that knows each encoder's option names and quality scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from librarrarian_contracts.settings import EncoderFamily, Quality
from librarrarian_contracts.topology import HwClass

VAAPI_DEVICE = "/dev/dri/renderD128"


@dataclass(frozen=True)
class Profile:
    hw: HwClass
    codec: str  # hevc | av1
    encoder: str  # the ffmpeg encoder name
    family: EncoderFamily

    def input_args(self) -> list[str]:
        """Options before ``-i``: VAAPI needs its device."""
        if self.hw is HwClass.VAAPI:
            return ["-vaapi_device", VAAPI_DEVICE]
        return []

    def video_args(self, ordinal: int, quality: Quality, odd_size: bool = False) -> list[str]:
        """Options for the ``ordinal``-th output video stream."""
        v = f":v:{ordinal}"
        args = [f"-c{v}", self.encoder]
        ten_bit = quality.ten_bit
        filters = []
        if odd_size:
            # 4:2:0 needs even dimensions: lose the odd last row or column rather than fail.
            filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2")
        match self.family:
            case EncoderFamily.X265:
                args += [f"-preset{v}", quality.preset or "medium", f"-crf{v}", str(quality.level)]
                if ten_bit:
                    args += [f"-pix_fmt{v}", "yuv420p10le"]
            case EncoderFamily.SVTAV1:
                args += [f"-preset{v}", quality.preset or "8", f"-crf{v}", str(quality.level)]
                if ten_bit:
                    args += [f"-pix_fmt{v}", "yuv420p10le"]
            case EncoderFamily.NVENC:
                args += [
                    f"-preset{v}",
                    quality.preset or "p5",
                    f"-rc{v}",
                    "vbr",
                    f"-cq{v}",
                    str(quality.level),
                ]
                args += [f"-b{v}", "0"]
                if ten_bit:
                    args += [f"-pix_fmt{v}", "p010le"]
            case EncoderFamily.QSV:
                args += [f"-preset{v}", quality.preset or "medium", f"-global_quality{v}", str(quality.level)]
                if ten_bit:
                    args += [f"-pix_fmt{v}", "p010le"]
            case EncoderFamily.VAAPI:
                args += [f"-rc_mode{v}", "CQP", f"-qp{v}", str(quality.level)]
                filters.append(f"format={'p010' if ten_bit else 'nv12'}|vaapi,hwupload")
            case EncoderFamily.VIDEOTOOLBOX:
                args += [f"-q{v}", str(quality.level)]
                if ten_bit:
                    args += [f"-profile{v}", "main10", f"-pix_fmt{v}", "p010le"]
        if filters:
            args += [f"-filter{v}", ",".join(filters)]
        return args

    def global_args(self, vbv_kbps: int | None = None) -> list[str]:
        """Options for the whole output: quiet the software encoders' own logging; ``vbv_kbps``: a ceiling
        on x265's rate (its Dolby Vision needs the HRD that VBV brings)."""
        if self.family is EncoderFamily.X265:
            params = "log-level=error"
            if vbv_kbps is not None:
                params += f":vbv-maxrate={vbv_kbps}:vbv-bufsize={vbv_kbps}"
            return ["-x265-params", params]
        return []


def _family(hw: HwClass, codec: str) -> EncoderFamily:
    if hw is HwClass.CPU:
        return EncoderFamily.X265 if codec == "hevc" else EncoderFamily.SVTAV1
    return EncoderFamily(hw.value)


_ENCODERS: dict[tuple[HwClass, str], str] = {
    (HwClass.CPU, "hevc"): "libx265",
    (HwClass.CPU, "av1"): "libsvtav1",
    (HwClass.NVENC, "hevc"): "hevc_nvenc",
    (HwClass.NVENC, "av1"): "av1_nvenc",
    (HwClass.QSV, "hevc"): "hevc_qsv",
    (HwClass.QSV, "av1"): "av1_qsv",
    (HwClass.VAAPI, "hevc"): "hevc_vaapi",
    (HwClass.VAAPI, "av1"): "av1_vaapi",
    (HwClass.VIDEOTOOLBOX, "hevc"): "hevc_videotoolbox",
}

PROFILES: dict[tuple[HwClass, str], Profile] = {
    key: Profile(key[0], key[1], encoder, _family(*key)) for key, encoder in _ENCODERS.items()
}


def profile_for(hw: HwClass | str, codec: str) -> Profile | None:
    """None when the class has no encoder for the codec (VideoToolbox has no AV1 encoder)."""
    return PROFILES.get((HwClass(hw), codec))
