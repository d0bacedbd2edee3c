"""plot_histograms and the panel data behind it (matplotlib, no Qt)."""

import numpy as np
import pytest

from napari_histeq import dark_stack, dark_xray, equalize, equalize_rgb, plot_histograms
from napari_histeq._inspect.plot import histogram_panel_data, stats_text

pytest.importorskip("matplotlib")


def test_panel_data_matches_independent_counts():
    image = dark_xray()
    after = equalize(image)
    data = histogram_panel_data(image, after)
    np.testing.assert_array_equal(data.before[0].counts, np.bincount(image.ravel(), minlength=256))
    np.testing.assert_array_equal(data.after[0].counts, np.bincount(after.ravel(), minlength=256))
    np.testing.assert_allclose(data.before[0].cdf, np.cumsum(np.bincount(image.ravel(), minlength=256)) / image.size)
    # the transfer curve read off the data is the look-up table itself for a pooled histogram
    x, y, _ = data.transfer[0]
    for level, output in zip(x.astype(int), y):
        assert output == after[image == level][0]


def test_without_after_the_curve_previews_standard_equalisation():
    image = dark_xray()
    data = histogram_panel_data(image)
    _x, y, _ = data.transfer[0]
    assert "would do" in data.transfer_label
    assert y[int(image.max())] == 255


def test_rgb_gives_one_curve_per_channel():
    rgb = np.dstack([dark_xray(), dark_xray() // 2, dark_xray() // 3])
    data = histogram_panel_data(rgb, equalize_rgb(rgb), rgb=True)
    assert [c.label for c in data.before] == ["before (red)", "before (green)", "before (blue)"]
    assert len(data.after) == 3 and len(data.transfer) == 3


def test_figure_is_drawn_and_saved(tmp_path):
    stack = dark_stack(shape=(4, 64, 64))
    path = tmp_path / "histograms.png"
    figure = plot_histograms(stack, equalize(stack), path, log=True, title="stack")
    assert path.stat().st_size > 10_000
    hist_ax, cdf_ax, _transfer_ax, *tops = figure.axes
    assert hist_ax.get_yscale() == "log"
    assert len(cdf_ax.lines) + sum(len(top.lines) for top in tops[1:]) == 3  # before, after, uniform
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    assert pixels[..., :3].std() > 20  # not a blank figure


def test_stats_text_answers_the_question():
    image = dark_xray()
    text = stats_text(histogram_panel_data(image, equalize(image)))
    assert "KS to uniform 0.655" in text and "KS to uniform 0.063" in text


def test_panel_data_memory_is_independent_of_the_image_size():
    # The transfer curve read off a 192 MiB stack took 3.2 GB: now O(bins) plus bounded blocks.
    import tracemalloc

    stack = np.random.default_rng(1).integers(0, 4096, (16, 1024, 2048), dtype=np.uint16)  # 64 MiB
    after = equalize(stack)
    histogram_panel_data(stack[:1], after[:1])  # warm up
    tracemalloc.start()
    data = histogram_panel_data(stack, after)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 48 * 2**20, f"{peak / 2**20:.0f} MiB for a 64 MiB image"
    # the curve is the mean output per input level, checked on a sample of levels by brute force
    x, y, _ = data.transfer[0]
    for level in (0, 1, 100, 4095):
        where = stack == level
        assert y[np.searchsorted(x, level)] == after[where].astype(np.float64).mean()


def test_transfer_curve_of_an_rgb_channel_and_floats():
    rgb = np.dstack([dark_xray(), dark_xray() // 2, dark_xray() // 3])
    after = equalize_rgb(rgb)
    data = histogram_panel_data(rgb, after, rgb=True)
    x, y, _ = data.transfer[1]
    for level, output in zip(x.astype(int), y):
        assert output == after[..., 1][rgb[..., 1] == level].mean()
    floats = np.random.default_rng(2).gamma(2.0, 0.1, (300, 200))
    floats[0, :5] = np.nan
    data = histogram_panel_data(floats, equalize(floats))
    x, y, _ = data.transfer[0]
    assert np.all(np.isfinite(y)) and np.all(np.diff(y) > 0)


def _twelve_bit(shape=(256, 256), seed=4):
    rng = np.random.default_rng(seed)
    return np.clip(rng.gamma(4.0, 300.0, shape), 0, 4095).astype(np.uint16)  # a 12-bit camera, 16-bit container


@pytest.mark.parametrize("out_range", [None, "image"])
def test_the_axes_fit_the_values_a_twelve_bit_image_occupies(out_range):
    image = _twelve_bit()
    after = None if out_range is None else equalize(image, out_range=out_range)
    figure = plot_histograms(image, after)
    hist_ax, cdf_ax, transfer_ax = figure.axes[:3]
    low, high = int(min(image.min(), image.max())), int(image.max()) + 1
    for ax in (hist_ax, cdf_ax, transfer_ax):
        left, right = ax.get_xlim()
        assert left <= low and right >= high  # nothing occupied is cut off
        assert (high - low) / (right - left) > 0.9, (ax.get_title(), left, right)
    drawn = [patch for patch in hist_ax.patches]  # the before histogram: hundreds of bars, not a spike
    assert drawn and len(drawn[0].get_data()[0]) > 200


def test_after_spread_over_the_container_gets_an_axis_of_its_own():
    # equalised to the 16-bit range, "after" spans 16 times what "before" does: on one shared axis
    # "before" would be a spike at the left edge
    image = _twelve_bit()
    after = equalize(image)  # out_range="dtype": 0..65535
    figure = plot_histograms(image, after)
    hist_ax, cdf_ax = figure.axes[:2]
    tops = figure.axes[3:]
    assert len(tops) == 2
    before_span = int(image.min()), int(image.max()) + 1
    after_span = int(after.min()), int(after.max()) + 1
    for ax in (hist_ax, cdf_ax):
        left, right = ax.get_xlim()
        assert left <= before_span[0] and right >= before_span[1]
        assert (before_span[1] - before_span[0]) / (right - left) > 0.9
    for top in tops:
        left, right = top.get_xlim()
        assert left <= after_span[0] and right >= after_span[1]
        assert (after_span[1] - after_span[0]) / (right - left) > 0.9
    labels = hist_ax.get_legend().get_texts()
    assert {"before", "after"} <= {t.get_text() for t in labels}  # one legend names both


def test_similar_spans_share_one_axis():
    image = _twelve_bit()
    figure = plot_histograms(image, equalize(image, out_range="image"))
    assert len(figure.axes) == 3


def test_a_bleach_corrected_series_shows_the_spread_of_its_tables():
    from napari_histeq import correct_bleaching, dark_stack

    series = dark_stack()
    corrected = correct_bleaching(series)
    data = histogram_panel_data(series, corrected)
    x, mean, _ = data.transfer[0]
    low, high = data.transfer_band[0]
    # independent oracle: the outputs each input level went to, frame by frame
    level = int(np.median(series))
    outputs = corrected[series == level].astype(float)
    i = int(np.flatnonzero(x == level)[0])
    assert low[i] == outputs.min() and high[i] == outputs.max()
    assert mean[i] == pytest.approx(outputs.mean())
    assert high[i] > low[i]  # frames mapped the same level differently: the band shows it
    transfer_ax = plot_histograms(series, corrected).axes[2]
    assert transfer_ax.collections, "the band is drawn"


def test_full_dtype_range_shows_the_container():
    image = _twelve_bit()
    hist_ax = plot_histograms(image, span="dtype").axes[0]
    left, right = hist_ax.get_xlim()
    assert left <= 0 and right >= 65535
