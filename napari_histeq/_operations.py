"""A user's settings run as the operation they name: global or adaptive, grey or colour.

The widget, its live preview and both commands hold a :class:`Settings`;
this is the one place that turns it into a call of :func:`equalize` or
:func:`equalize_adapthist`, through :func:`equalize_rgb` for colour.
"""

from __future__ import annotations

from ._adapthist import equalize_adapthist
from ._api import equalize
from ._rgb import equalize_rgb
from ._settings import Settings


def apply_settings(settings: Settings, data, *, axis=None, colour=False, mask=None):
    """``data`` equalised as ``settings`` say; ``colour``: RGB(A) by the settings' colour rule."""
    operation = equalize_adapthist if settings.adaptive else equalize
    if colour:
        return equalize_rgb(data, mode=settings.rgb_mode, axis=axis, operation=operation, mask=mask,
                            **settings.core())
    return operation(data, axis=axis, mask=mask, **settings.core())
