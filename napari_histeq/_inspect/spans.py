"""What the plots' axes span and what is drawn on them: the occupied values with a margin, a separate
axis for a result spread far wider than its input, histograms summed into fewer bins for drawing, and
values matplotlib's axis arithmetic can take.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .density import power_of_two_scale
from .panel import PanelData

#: Histograms with more bins are summed into this many for drawing.
MAX_DRAWN_BINS = 512


#: The margin on either side of the occupied values, as a share of their span.
SPAN_MARGIN = 0.03


def occupied(curves_list):
    """``(low, high)``: from the first occupied bin's low edge to the last one's high edge, over all
    the curves; None when no bin is occupied.
    """
    lows, highs = [], []
    for curves in curves_list:
        occupied = np.flatnonzero(curves.counts)
        if occupied.size:
            lows.append(curves.edges[occupied[0]])
            highs.append(curves.edges[occupied[-1] + 1])
    return (min(lows), max(highs)) if lows else None


def _with_margin(span):
    low, high = span
    margin = (high - low) * SPAN_MARGIN or 0.5
    return low - margin, high + margin


def axis_span(data: PanelData, span: str):
    """The x-axis of the histogram and CDF plots: the occupied values of before, after and the
    reference with a small margin (``span="data"``), or the full range of the bins (``"dtype"``:
    the dtype's range for 8/16-bit images, the binned range for floats).
    """
    curves = data.before + data.after + data.reference
    if span == "dtype":
        return min(c.edges[0] for c in curves), max(c.edges[-1] for c in curves)
    found = occupied(curves)
    return None if found is None else _with_margin(found)


#: "before" and "after" get x-axes of their own (after's along the top) when a shared axis would
#: be more than this many times wider than the narrower of the two: a 12-bit image equalised to the
#: 16-bit range would otherwise be a spike at the left edge.
SEPARATE_SPANS = 4.0


def separate_spans(data: PanelData, span: str, before):
    """``(before, after_span)`` when before (its span given) and after need x-axes of their own, else None."""
    if span != "data" or not data.after:
        return None
    after = axis_span(replace(data, before=[]), span)
    if before is None or after is None:
        return None
    narrowest = min(before[1] - before[0], after[1] - after[0])
    union = max(before[1], after[1]) - min(before[0], after[0])
    return (before, after) if narrowest > 0 and union > SEPARATE_SPANS * narrowest else None


def drawn_bins(edges, counts, span=None):
    """The bins within ``span`` (all of them without one), neighbours summed so that at most
    MAX_DRAWN_BINS are drawn: a 12-bit image in a 16-bit container gets 512 bars over its 4096
    levels, not 32 over the container's 65536.
    """
    if span is not None:
        first = max(int(np.searchsorted(edges, span[0], side="right")) - 1, 0)
        last = min(int(np.searchsorted(edges, span[1], side="left")), len(counts))
        if last > first:
            edges, counts = edges[first : last + 1], counts[first:last]
    factor = -(-len(counts) // MAX_DRAWN_BINS)
    if factor == 1:
        return edges, counts
    padded = np.pad(counts, (0, (-len(counts)) % factor))
    merged = padded.reshape(-1, factor).sum(axis=1)
    merged_edges = np.append(edges[:-1:factor], edges[-1])
    return merged_edges[: len(merged) + 1], merged


def drawable(data: PanelData):
    """``data`` in values matplotlib can draw: floats near the ends of float64 overflow its axis
    arithmetic, so such values are divided by a power of two (exact), and the axes say so.
    """
    curves = data.before + data.after + data.reference
    unit = max([power_of_two_scale(c.edges) for c in curves]
               + [power_of_two_scale(np.asarray(x, dtype=np.float64)) for x, _, _ in data.transfer], default=1.0)
    y_unit = max([power_of_two_scale(np.asarray(y, dtype=np.float64)) for _, y, _ in data.transfer], default=1.0)
    if unit == 1.0 and y_unit == 1.0:
        return data, ""

    def scaled(c):
        density = c.density and c.density._replace(positions=c.density.positions / unit,
                                                   values=c.density.values * unit)
        return replace(c, edges=c.edges / unit, density=density)

    transfer = [(np.asarray(x) / unit, np.asarray(y) / y_unit, color) for x, y, color in data.transfer]
    band = [b and (np.asarray(b[0]) / y_unit, np.asarray(b[1]) / y_unit) for b in data.transfer_band]
    note = f" (values / 2**{int(np.log2(unit))})" if unit != 1.0 else ""
    note += f" (results / 2**{int(np.log2(y_unit))})" if y_unit != 1.0 else ""
    return replace(data, before=[scaled(c) for c in data.before], after=[scaled(c) for c in data.after],
                   reference=[scaled(c) for c in data.reference], transfer=transfer,
                   transfer_band=band, limits=data.limits and tuple(v / unit for v in data.limits),
                   landmarks=data.landmarks and (data.landmarks[0] / unit, data.landmarks[1] / y_unit)), note
