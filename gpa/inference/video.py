"""Reading video frames as RGB arrays and writing RGB frames to an MPEG-4 file, with OpenCV."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

__all__ = ["VIDEO_CODEC", "VideoReader", "VideoWriter"]

VIDEO_CODEC = "mp4v"


class VideoReader:
    """Frames of a video file (cv2.VideoCapture) as HxWx3 uint8 RGB arrays; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"video {self.path} does not exist")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise ValueError(f"cannot open video {self.path} with OpenCV (cv2.VideoCapture); is it a video file "
                             "OpenCV can decode?")

    @property
    def fps(self) -> float:
        """Frames per second the file reports (0 when it reports none)."""
        return float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)

    @property
    def frame_count(self) -> int:
        """Frames the container announces (may be 0 or approximate for some formats)."""
        return max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoWriter:
    """Writes HxWx3 uint8 RGB frames of one size to an MPEG-4 ("mp4v") file; use as a context manager."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int]) -> None:
        if not fps > 0:
            raise ValueError(f"the frame rate for {path} must be > 0, got {fps}")
        self.path = Path(path)
        self.size = size  # (height, width)
        height, width = size
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*VIDEO_CODEC), fps, (width, height))
        if not self._writer.isOpened():
            raise ValueError(f"cannot write video {self.path} with codec {VIDEO_CODEC!r} (cv2.VideoWriter); check that "
                             "its folder exists and is writable and that OpenCV has an MPEG-4 encoder")

    def write(self, frame_rgb: np.ndarray) -> None:
        if frame_rgb.shape != (*self.size, 3) or frame_rgb.dtype != np.uint8:
            raise ValueError(f"video frames must be {self.size[0]}x{self.size[1]}x3 uint8, "
                             f"got {frame_rgb.shape} {frame_rgb.dtype}")
        self._writer.write(cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
