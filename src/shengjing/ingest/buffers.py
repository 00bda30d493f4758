"""Numpy views of the buffers of Arrow text arrays, for the data path's byte-level fast paths."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def string_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """The value offsets and the data bytes of a string or binary array, as numpy views (None if it has no data,
    or is of another type)."""
    if not (pa.types.is_string(values.type) or pa.types.is_binary(values.type)) or values.buffers()[2] is None:
        return None
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    return offsets, np.frombuffer(values.buffers()[2], dtype=np.uint8)


def first_bytes(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Each value's first byte (a neighbour's byte, or 0 when there is no data, for an empty value: callers mask
    empty values out)."""
    if len(data) == 0:
        return np.zeros(len(offsets) - 1, dtype=np.uint8)
    return data[np.minimum(offsets[:-1], len(data) - 1)]
