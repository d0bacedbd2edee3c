"""Which pixels share a histogram (``axis``) and how the work is cut into blocks.

Every stage sees the image as a 2D array ``(n_groups, group_size)``: one row
per histogram. For the common cases (``axis=None`` and trailing axes such as
``(-2, -1)`` on a C-contiguous stack) that is a free reshape, not a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import numpy as np

from .backend import native


@dataclass(frozen=True)
class GroupLayout:
    """How an image of ``shape`` splits into histogram groups along ``axis``."""

    shape: tuple[int, ...]
    axis: tuple[int, ...]

    @property
    def group_axes(self) -> tuple[int, ...]:
        return tuple(i for i in range(len(self.shape)) if i not in self.axis)

    @property
    def group_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[i] for i in self.group_axes)

    @property
    def n_groups(self) -> int:
        return prod(self.group_shape)

    @property
    def group_size(self) -> int:
        return prod(self.shape[i] for i in self.axis)

    @property
    def groups_lead(self) -> bool:
        """True when the group axes come first, so :meth:`to_rows` of a C-contiguous array is a view."""
        return self.group_axes == tuple(range(len(self.group_axes)))

    def to_rows(self, xp, array):
        """View (or, for non-trailing axes, copy) ``array`` as ``(n_groups, group_size)``."""
        front = tuple(range(len(self.group_axes)))
        moved = xp.moveaxis(array, self.group_axes, front) if self.group_axes else array
        return moved.reshape(self.n_groups, self.group_size)

    def from_rows(self, xp, rows):
        """Inverse of :meth:`to_rows` for a C-contiguous ``rows`` array."""
        moved_shape = self.group_shape + tuple(self.shape[i] for i in self.axis)
        moved = rows.reshape(moved_shape)
        if not self.group_axes:
            return moved
        front = tuple(range(len(self.group_axes)))
        return xp.ascontiguousarray(xp.moveaxis(moved, front, self.group_axes))

    def mask_rows(self, xp, mask):
        """The mask broadcast to the image's shape, as rows."""
        if mask is None:
            return None
        return self.to_rows(xp, xp.broadcast_to(mask, self.shape))


def iter_blocks(n_groups: int, group_size: int, max_elements: int):
    """Yield ``(g0, g1, m0, m1)`` blocks of a ``(n_groups, group_size)`` array.

    Each block holds at most ``max_elements`` pixels (whole rows when a row fits).
    """
    max_elements = max(1, int(max_elements))
    if group_size <= max_elements:
        rows = max(1, max_elements // group_size)
        for g0 in range(0, n_groups, rows):
            yield g0, min(g0 + rows, n_groups), 0, group_size
    else:
        for g in range(n_groups):
            for m0 in range(0, group_size, max_elements):
                yield g, g + 1, m0, min(m0 + max_elements, group_size)


def load_block(xp, rows, block):
    """The pixels of ``block`` as a native-byte-order array on ``xp``."""
    g0, g1, m0, m1 = block
    part = native(rows[g0:g1, m0:m1])
    if xp is np:
        return np.asarray(part)
    return xp.asarray(part)
