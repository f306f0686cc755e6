"""Video files and frame folders in and out.

Frames travel as uint8 RGB arrays of shape (H, W, 3); a whole clip as a `Video` whose
``frames`` array is (T, H, W, 3). Long videos are read as an iterator of frames or in windows
(`iter_frames`, `read_video(start=, count=)`), so nothing forces a whole file into memory.

Output form follows the name: ``.mp4``/``.mov`` are H.264 (quality set by CRF), ``.mkv`` is
lossless FFV1, a name without a suffix is a folder of PNG frames. Every writer works on a
temporary name and renames it on success, so a failed run never leaves a half-written output.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np
import torch

from .errors import VidpriorError

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
LOSSY_OUTPUTS = (".mp4", ".mov")
LOSSLESS_OUTPUTS = (".mkv",)
DEFAULT_FPS = 25.0
MIN_SIZE = 8  # smallest height/width any method can work with


@dataclass(frozen=True)
class VideoInfo:
    """What a video file or frame folder holds, read without decoding every frame."""

    path: Path
    frames: int
    height: int
    width: int
    fps: float
    has_audio: bool


@dataclass
class Video:
    """A clip in memory: ``frames`` (T, H, W, 3) uint8 RGB, its frame rate, and where it came from.

    ``source`` and ``start_time`` let writers carry the original audio over to the output.
    """

    frames: np.ndarray
    fps: float = DEFAULT_FPS
    source: Path | None = None
    start_time: float = 0.0

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(f"Video frames must be (T, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}")

    def __len__(self) -> int:
        return self.frames.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.frames.shape[1], self.frames.shape[2]


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float32 (T, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def mirror(index: int, count: int) -> int:
    """Reflect a frame index into 0..count-1 (…, 2, 1, 0, 1, 2, …, count-1, count-2, …)."""
    if count == 1:
        return 0
    period = 2 * (count - 1)
    index %= period
    return index if index < count else period - index


def tensor_to_frames(x: torch.Tensor) -> np.ndarray:
    """float (T, 3, H, W) in [0, 1] -> uint8 (T, H, W, 3), rounded and clipped."""
    x = x.detach().float().clamp(0, 1).mul(255.0).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


# ----------------------------------------------------------------------------------------- reading


def _natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_images(folder: Path) -> list[Path]:
    """Image files of a folder in natural order (frame2 before frame10)."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def to_rgb(image: np.ndarray, what: str = "image") -> np.ndarray:
    """Any decoded image (gray, gray+alpha, BGR, BGRA; 8 or 16 bit) -> uint8 RGB (H, W, 3).

    Alpha is composited over black, as a player shows it.
    """
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0).round().astype(np.uint8)
    elif image.dtype != np.uint8:
        raise VidpriorError(f"{what}: unsupported pixel type {image.dtype}; save it as 8- or 16-bit PNG/JPEG")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels == 2:
        gray = (image[:, :, :1].astype(np.uint16) * image[:, :, 1:] // 255).astype(np.uint8)
        return np.repeat(gray, 3, axis=2)
    if channels == 4:
        alpha = image[:, :, 3:].astype(np.uint16)
        image = (image[:, :, :3].astype(np.uint16) * alpha // 255).astype(np.uint8)
    return np.ascontiguousarray(image[:, :, 2::-1])  # BGR -> RGB


def read_image(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode one image file exactly as stored; a clear error if it is missing or unreadable."""
    if not path.is_file():
        raise VidpriorError(f"{path}: no such file")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise VidpriorError(f"{path}: not a readable image (corrupt or unsupported format)")
    return image


PNG_START = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def image_size(path: Path) -> tuple[int, int] | None:
    """(height, width) of a PNG or JPEG file from its header (decoded when the header is damaged, which
    then says what is wrong); None for other formats (bmp, tif, webp), which are checked as they are read."""
    try:
        with open(path, "rb") as file:
            head = file.read(24)
            if len(head) == 24 and head[:8] == PNG_START and head[12:16] == b"IHDR":
                file.seek(-len(PNG_END), os.SEEK_END)
                if file.read() == PNG_END:  # not truncated
                    width, height = struct.unpack(">II", head[16:24])
                    return height, width
            elif head[:2] == b"\xff\xd8":
                file.seek(2)
                size = _jpeg_size(file)
                if size is not None:
                    return size
    except OSError:
        pass  # read_image says what is wrong
    if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg"):
        return None
    return read_image(Path(path)).shape[:2]


def _jpeg_size(file: BinaryIO) -> tuple[int, int] | None:
    """(height, width) from the first SOF segment after the JPEG start marker; None if there is none."""
    while file.read(1) == b"\xff":
        marker = file.read(1)
        while marker == b"\xff":  # fill bytes
            marker = file.read(1)
        if not marker:
            return None
        if 0xD0 <= marker[0] <= 0xD9 or marker[0] == 0x01:  # markers without a segment
            continue
        length = int.from_bytes(file.read(2), "big")
        if length < 2:
            return None
        if marker[0] in JPEG_SOF:
            data = file.read(5)
            height, width = struct.unpack(">xHH", data) if len(data) == 5 else (0, 0)
            return (height, width) if height and width else None
        file.seek(length - 2, os.SEEK_CUR)
    return None


def _check_frame_files(files: list[Path], height: int, width: int) -> None:
    """Refuse a folder with a frame of another size than (height, width) or an unreadable one, reading headers."""
    for file in files:
        size = image_size(file)
        if size is not None and size != (height, width):
            raise VidpriorError(f"{file}: size {size[1]}x{size[0]} differs from the first frame's {width}x{height}; "
                                "every frame of a folder must have the same size")


def _check_path(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise VidpriorError(f"{path}: no such file or folder")
    if path.is_dir():
        if not list_images(path):
            raise VidpriorError(f"{path}: the folder holds no frames ({', '.join(IMAGE_SUFFIXES)})")
    elif path.suffix.lower() not in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        raise VidpriorError(
            f"{path}: unsupported input type '{path.suffix}'; give a video "
            f"({', '.join(VIDEO_SUFFIXES)}), an image or a folder of frames"
        )
    return path


@contextlib.contextmanager
def _open_container(path: Path) -> Iterator[av.container.InputContainer]:
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise VidpriorError(
            f"{path}: cannot open as a video ({exc.__class__.__name__}); is the file complete?") from None
    try:
        if not container.streams.video:
            raise VidpriorError(f"{path}: the file has no video stream")
        yield container
    finally:
        container.close()


def probe(path: Path) -> VideoInfo:
    """Frame count, size, fps and audio presence of a video file, frame folder or single image."""
    path = _check_path(Path(path))
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        files = list_images(path) if path.is_dir() else [path]
        first = to_rgb(read_image(files[0]), str(files[0]))
        _check_frame_files(files[1:], first.shape[0], first.shape[1])
        return VideoInfo(path, len(files), first.shape[0], first.shape[1], DEFAULT_FPS, False)
    with _open_container(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate or DEFAULT_FPS)
        height, width = stream.codec_context.height, stream.codec_context.width
        try:  # counting packets is exact and fast; stream.frames is 0 for .mkv; an edit list's discarded
            # packets (cut mp4s) never come out of the decoder
            count = sum(1 for p in container.demux(stream) if p.size and not p.is_discard)
        except av.FFmpegError as exc:
            raise VidpriorError(f"{path}: the video is damaged ({exc}); re-encode or trim it") from None
        return VideoInfo(path, count, height, width, fps, bool(container.streams.audio))


def iter_frames(path: Path, start: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
    """Yield frames ``start .. start+count-1`` of a video/folder/image as uint8 RGB (H, W, 3)."""
    path = _check_path(Path(path))
    if start < 0 or (count is not None and count < 1):
        raise VidpriorError(f"invalid frame range start={start} count={count}: start must be >= 0, count >= 1")
    stop = None if count is None else start + count
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        files = list_images(path) if path.is_dir() else [path]
        size = None
        for file in files[start:stop]:
            frame = to_rgb(read_image(file), str(file))
            if size is not None and frame.shape != size:
                raise VidpriorError(f"{file}: size {frame.shape[1]}x{frame.shape[0]} differs from the first frame's")
            size = frame.shape
            yield frame
        return
    with _open_container(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            version = path.stat()
            order = _frame_stamps(str(path), (version.st_mtime_ns, version.st_size)) if start > 0 else None
            if order is not None and start < len(order):
                container.seek(order[start], stream=stream, backward=True, any_frame=False)
                index, rank = start, None
            else:
                order = None
            for frame in container.decode(stream):
                if order is not None:  # after the seek, decoding from the keyframe before frame `start`:
                    # every frame must come in the numbering's order up to it, or the numbering is off
                    # (AVI keeps decode-order times); then decode from the beginning below (nothing yielded yet)
                    rank = bisect.bisect_left(order, frame.pts) if rank is None and frame.pts is not None else rank
                    if rank is None or rank > start or order[rank] != frame.pts:
                        break
                    rank += 1
                    if rank <= start:
                        continue
                    order = None
                if stop is not None and index >= stop:
                    return
                if index >= start:
                    yield frame.to_ndarray(format="rgb24")
                index += 1
            else:
                return
            container.seek(0, stream=stream, backward=True)
            for index, frame in enumerate(container.decode(stream)):
                if stop is not None and index >= stop:
                    return
                if index >= start:
                    yield frame.to_ndarray(format="rgb24")
        except av.FFmpegError as exc:
            raise VidpriorError(
                f"{path}: the video is damaged near frame {index} ({exc}); trim or re-encode it") from None


@functools.lru_cache(maxsize=16)
def _frame_stamps(path: str, version: tuple[int, int]) -> tuple[int, ...] | None:
    """The pts of a video's frames in presentation order: frame i has the i-th (None: some pts missing
    or repeated, so no seeking). A demux pass reads no pixels; ``version`` (mtime, size) keys the cache."""
    with _open_container(Path(path)) as container:
        stream = container.streams.video[0]
        stamps = [packet.pts for packet in container.demux(stream) if packet.size and not packet.is_discard]
    if any(p is None for p in stamps) or len(set(stamps)) < len(stamps):
        return None
    return tuple(sorted(stamps))


def read_video(path: Path, start: int = 0, count: int | None = None) -> Video:
    """Read (part of) a video file, frame folder or single image into memory."""
    path = Path(path)
    info = probe(path)
    frames = list(iter_frames(path, start, count))
    if not frames:
        raise VidpriorError(f"{path}: no frames in the requested range (the input has {info.frames} frames)")
    array = np.stack(frames)
    check_frame_size(array.shape[1], array.shape[2], str(path))
    return Video(array, info.fps, source=path if info.has_audio else None, start_time=start / info.fps)


def check_frame_size(height: int, width: int, what: str) -> None:
    if min(height, width) < MIN_SIZE:
        raise VidpriorError(
            f"{what}: frames of {width}x{height} are too small; at least {MIN_SIZE}x{MIN_SIZE} is needed")


# ----------------------------------------------------------------------------------------- writing


def output_kind(path: Path) -> str:
    """'lossy' (H.264), 'lossless' (FFV1) or 'frames' (PNG folder), from the output name."""
    suffix = Path(path).suffix.lower()
    if suffix in LOSSY_OUTPUTS:
        return "lossy"
    if suffix in LOSSLESS_OUTPUTS:
        return "lossless"
    if suffix == "":
        return "frames"
    raise VidpriorError(
        f"{path}: cannot write '{suffix}'; use .mp4/.mov (H.264), .mkv (lossless FFV1) or a folder name (PNG frames)"
    )


def check_output(output: Path, *inputs: Path | None, suffix: str | None = None) -> Path:
    """Refuse, before any work, an output that cannot be written: an unknown form (or, for a plain
    file such as a .vpr, a name not ending in ``suffix``), one of the inputs, a file where a folder
    goes or the other way round, or a name in a folder that is missing, is a file or is read-only."""
    output = Path(output)
    if suffix is not None and output.suffix.lower() != suffix:
        raise VidpriorError(f"{output}: the output must end in {suffix}")
    frames = suffix is None and output_kind(output) == "frames"
    for source in inputs:
        if source is not None and output.resolve() == Path(source).resolve():
            raise VidpriorError(f"{output}: the output would overwrite the input; choose another output name")
    if output.exists() and output.is_dir() != frames:
        what = "a file, not a folder of frames" if frames else "a folder"
        raise VidpriorError(f"{output}: exists and is {what}; choose another output name or remove it")
    _check_folder(output)
    return output


def _check_folder(output: Path) -> None:
    """Refuse an output whose folder is missing, is (or passes through) a file, or cannot be written in."""
    folder = output.resolve().parent
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise VidpriorError(f"{output}: {existing} is a file, not a folder; choose an output inside a folder")
    if existing != folder:
        raise VidpriorError(f"{output}: the folder {output.parent} does not exist; create it or choose another output")
    try:
        tempfile.NamedTemporaryFile(dir=folder, prefix=".vidprior-check.").close()
    except OSError as exc:
        raise VidpriorError(f"{output}: cannot write in {folder} ({exc.strerror}); "
                            "choose an output in a writable folder") from None


class VideoWriter:
    """Write frames one by one to a video file or PNG folder; commit atomically on `close`.

    Use as a context manager: on an exception nothing is left at ``path``.
    ``audio_from``/``audio_start`` copy the audio of a source file (transcoded to AAC) from that
    time on, trimmed to the written duration.
    """

    def __init__(self, path: Path, fps: float = DEFAULT_FPS, crf: int = 18,
                 audio_from: Path | None = None, audio_start: float = 0.0) -> None:
        self.path = Path(path)
        self.kind = output_kind(self.path)
        if not 0 <= crf <= 51:
            raise VidpriorError(
                f"--crf {crf} is out of range; H.264 takes 0 (best) to 51 (worst), 18 is visually clean")
        if not 0 < fps <= 1000:
            raise VidpriorError(f"fps {fps} is not valid; give a rate between 0 and 1000")
        self.fps, self.crf = fps, crf
        self.audio_from, self.audio_start = audio_from, audio_start
        self.count = 0
        self._container = None
        self._stream = None
        parent = self.path.resolve().parent
        if self.kind == "frames":
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".partial", dir=parent))
        else:
            fd, name = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".partial{self.path.suffix}", dir=parent)
            os.close(fd)
            self._tmp = Path(name)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
            return
        try:
            self.close()
        except BaseException:
            self.abort()  # a failed commit leaves no temporary behind
            raise

    def write(self, frame: np.ndarray) -> None:
        """Append one uint8 RGB frame (H, W, 3)."""
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        if self.kind == "frames":
            cv2.imwrite(str(self._tmp / f"{self.count:05d}.png"), frame[:, :, ::-1])
        else:
            if self._container is None:
                self._open(frame.shape[0], frame.shape[1])
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            self._container.mux(self._stream.encode(video_frame))
        self.count += 1

    def write_all(self, frames: Iterable[np.ndarray]) -> None:
        for frame in frames:
            self.write(frame)

    def _open(self, height: int, width: int) -> None:
        self._container = av.open(str(self._tmp), mode="w")
        rate = Fraction(self.fps).limit_denominator(1001)
        if self.kind == "lossless":
            stream = self._container.add_stream("ffv1", rate=rate)
            stream.pix_fmt = "bgr0"  # bit-exact RGB; yuv420p would subsample colour
        else:
            stream = self._container.add_stream("libx264", rate=rate)
            # 4:2:0 needs even sizes; odd sizes keep full chroma instead of being cropped
            stream.pix_fmt = "yuv420p" if height % 2 == 0 and width % 2 == 0 else "yuv444p"
            stream.options = {"crf": str(self.crf), "preset": "medium"}
        stream.width, stream.height = width, height
        self._stream = stream
        self._audio = None
        if self.audio_from is not None:  # every stream must exist before the first packet is written
            with contextlib.closing(av.open(str(self.audio_from))) as source:
                if source.streams.audio:
                    self._audio = self._container.add_stream("aac", rate=source.streams.audio[0].rate or 48000)

    def _mux_audio(self) -> None:
        duration = self.count / self.fps
        with contextlib.closing(av.open(str(self.audio_from))) as source:
            in_stream, out_stream = source.streams.audio[0], self._audio
            if self.audio_start > 0:
                source.seek(int(self.audio_start / in_stream.time_base), stream=in_stream)
            for frame in source.decode(in_stream):
                t = float(frame.pts * in_stream.time_base) if frame.pts is not None else 0.0
                if t + frame.samples / frame.sample_rate <= self.audio_start:
                    continue
                if t >= self.audio_start + duration:
                    break
                frame.pts = None
                self._container.mux(out_stream.encode(frame))
            self._container.mux(out_stream.encode(None))

    def close(self) -> Path:
        """Finish the file and move it to its final name; returns that path."""
        if self.count == 0:
            self.abort()
            raise VidpriorError(f"{self.path}: no frames to write")
        if self.kind != "frames":
            self._container.mux(self._stream.encode(None))
            if self._audio is not None:
                self._mux_audio()
            self._container.close()
            _public_permissions(self._tmp)
            os.replace(self._tmp, self.path)
        else:
            old = None
            if self.path.exists():
                if not self.path.is_dir():
                    self.abort()
                    raise VidpriorError(f"{self.path}: exists and is not a folder; choose another output name")
                old = self.path.with_name(f".{self.path.name}.old")
                shutil.rmtree(old, ignore_errors=True)
                self.path.rename(old)
            _public_permissions(self._tmp)
            self._tmp.rename(self.path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        """Drop everything written so far."""
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.close()
        if self._tmp.is_dir():
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            self._tmp.unlink(missing_ok=True)


def _public_permissions(path: Path) -> None:
    """Temporary files are created private; give the final output the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def write_video(path: Path, video: Video | Iterable[np.ndarray], fps: float | None = None,
                crf: int = 18, audio: bool = True) -> Path:
    """Write a `Video` (with its audio, when it has a source) or any iterable of frames."""
    if isinstance(video, Video):
        source = video.source if audio else None
        with VideoWriter(path, fps or video.fps, crf, source, video.start_time) as writer:
            writer.write_all(video.frames)
    else:
        with VideoWriter(path, fps or DEFAULT_FPS, crf) as writer:
            writer.write_all(video)
    return Path(path)
