"""Shared fixtures: tiny generated clips (see tests/videos.py for the helpers behind them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from videos import make_frames, write_clip


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Leaderboard indexes and other caches go to a temporary folder, never the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DYBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def clip_frames() -> np.ndarray:
    """The RGB frames written into the ``clip`` fixture (12 frames of 32x24)."""
    return make_frames(12, 24, 32)


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory, clip_frames: np.ndarray) -> Path:
    """A lossless 12-frame 32x24 yuv420p H.264 MP4 at 10 fps; do not modify it."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", clip_frames)


@pytest.fixture
def clip_factory(tmp_path: Path) -> Callable[..., Path]:
    """``clip_factory(name, frames=None, **write_clip_kwargs)`` writes a clip into the test's tmp_path."""

    def make(name: str = "clip.mp4", frames: np.ndarray | None = None, **kwargs) -> Path:
        return write_clip(tmp_path / name, frames, **kwargs)

    return make
