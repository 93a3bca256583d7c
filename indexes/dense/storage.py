"""The original vectors as the kernels read them: in RAM, or a file read with pread.

Storage dtypes are float32, float16 (read by the kernels as its uint16 bits) and uint8. When
the engine hands over an `np.memmap` (on_disk vectors), exact scoring reads the few rows it
needs with pread on a private file descriptor instead of touching the mapping: a page-cache
hit costs one system call, and no page of the file joins the process's resident set (a
mapped read would bring in a whole fault-around window or huge page per row).
"""

from __future__ import annotations

import mmap
import os
import weakref

import numpy as np

#: Storage dtypes and the view the kernels read (float16 is read as its uint16 bits).
STORAGE_VIEWS = {np.dtype(np.float32): np.float32, np.dtype(np.float16): np.uint16,
                 np.dtype(np.uint8): np.uint8}


class Originals:
    """`view`: the (n, dim) array for the kernels; `fd` >= 0 and `file_start` (byte position
    of row 0) when rows should be read from the file behind a memmap, else fd = -1."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.view = storage_view(vectors)
        self.fd, self.file_start = -1, 0
        location = _file_location(vectors)
        if location is not None:
            path, self.file_start = location
            self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            weakref.finalize(self, os.close, self.fd)


def storage_view(vectors: np.ndarray) -> np.ndarray:
    """The (n, dim) C-contiguous array the kernels read, without copying a memmap."""
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2:
        raise ValueError("vectors must be a 2-D numpy array (n, dim)")
    view = STORAGE_VIEWS.get(vectors.dtype)
    if view is None:
        raise TypeError(f"vectors dtype must be float32, float16 or uint8, got {vectors.dtype}")
    if not vectors.flags.c_contiguous:
        raise ValueError("vectors must be C-contiguous")
    return np.asarray(vectors).view(view)


def _file_location(vectors: np.ndarray) -> tuple[str, int] | None:
    """(path, byte position of row 0) of a file-backed memmap, None for anything else.

    np.memmap maps its file from `offset` rounded down to the allocation granularity, and
    slices keep the root's `offset`, so a row's file position is that mapping start plus the
    row's distance from the start of the mapping.
    """
    if not isinstance(vectors, np.memmap) or not vectors.filename or vectors.size == 0:
        return None
    mapping = getattr(vectors, "_mmap", None)
    if not isinstance(mapping, mmap.mmap):
        return None
    mapped_from = vectors.offset - vectors.offset % mmap.ALLOCATIONGRANULARITY
    mapping_address = np.frombuffer(mapping, dtype=np.uint8, count=1).ctypes.data
    return vectors.filename, mapped_from + vectors.ctypes.data - mapping_address
