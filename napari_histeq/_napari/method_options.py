"""The Equalize widget's choice of operation, variant and parameters, made from the registry.

A helper, not a widget: it makes one control per registry entry (the
operation, its variant, each parameter), lays none out (the Equalize widget
places them in its column), shows a parameter only for the variants it is
offered for, and turns the controls into :func:`equalize_layer` keywords.
"""

from __future__ import annotations

from magicgui.widgets import ComboBox, FloatSpinBox, LineEdit, SpinBox

from .._operations.registry import OPERATIONS, Parameter, methods, operation_choices


def _control(parameter: Parameter):
    """A magicgui control for one parameter (its range set per variant by :meth:`MethodOptions._fit_ranges`)."""
    label = parameter.label or parameter.name.replace("_", " ")
    if parameter.kind == "choice":
        return ComboBox(choices=parameter.choices, value=parameter.default, name=parameter.name, label=label)
    if parameter.kind in TEXT_KINDS:
        return LineEdit(value=next(iter(parameter.widget.values())), name=parameter.name, label=label,
                        tooltip=parameter.help)
    kind = FloatSpinBox if parameter.kind == "float" else SpinBox
    low, high, step, value = next(iter(parameter.widget.values()))
    return kind(value=value, min=low, max=high, step=step, name=parameter.name, label=label,
                tooltip=parameter.help)


#: Parameters typed into a text box (numbers separated by commas, a preset's name).
TEXT_KINDS = ("floats", "text")


class MethodOptions:
    """The operation (``method``), its variant, and one control per parameter of the operations ``names``."""

    def __init__(self, names=None):
        self.names = methods() if names is None else tuple(names)
        self.method = ComboBox(choices=operation_choices(self.names), value=self.names[0], name="method",
                               label="method")
        self.variant = ComboBox(choices=self._variant_choices, value=self.spec.default_variant, name="variant",
                                label="variant")
        self.parameters = {}
        for name in self.names:
            for parameter in OPERATIONS[name].parameters:
                self.parameters.setdefault(parameter.name, (_control(parameter), parameter))
        for control, _ in self.parameters.values():
            setattr(self, control.name, control)
        self.method.changed.connect(self._method_changed)
        self.variant.changed.connect(self._variant_changed)
        self._show_parameters()

    @property
    def spec(self):
        return OPERATIONS[self.method.value]

    @property
    def widgets(self) -> list:
        return [self.method, self.variant, *(control for control, _ in self.parameters.values())]

    @property
    def adaptive(self) -> bool:
        return self.method.value == "adaptive"

    def _variant_choices(self, _widget=None):
        return [(label, name) for name, label in self.spec.variants]

    def _offered(self, parameter: Parameter) -> bool:
        return parameter in self.spec.parameters and parameter.used_by(self.variant.value)

    def _method_changed(self, _value=None):
        self.variant.reset_choices()
        self.variant.value = self.spec.default_variant
        self._variant_changed()

    def _variant_changed(self, _value=None):
        self._fit_ranges()
        self._show_parameters()

    def _fit_ranges(self):
        """Each shown number's range and default in the variant's own units (scikit-image's clip limit is
        a fraction, OpenCV's its clipLimit), set whenever the variant changes.
        """
        for control, parameter in self.parameters.values():
            if (self._offered(parameter) and self.variant.value in parameter.widget
                    and parameter.kind not in (*TEXT_KINDS, "choice")):
                low, high, step, value = parameter.widget[self.variant.value]
                control.min, control.max, control.step = low, high, step
                control.value = value

    def _show_parameters(self):
        for control, parameter in self.parameters.values():
            control.visible = self._offered(parameter)

    def options(self) -> dict:
        """The operation's keywords of :func:`napari_histeq.equalize_layer`."""
        options = {"method": self.method.value, "variant": self.variant.value}
        for control, parameter in self.parameters.values():
            if self._offered(parameter):
                options[parameter.name] = _value(parameter, control.value)
        return options

    def show(self, settings) -> None:
        """Set the controls to ``settings`` (the command line's, when it opens the viewer)."""
        self.method.value = settings.operation
        self.variant.value = settings.variant
        for name, value in settings.parameters.items():
            if name not in self.parameters or value is None:
                continue
            control, parameter = self.parameters[name]
            if parameter.kind in TEXT_KINDS:  # as it was typed: numbers separated by commas
                control.value = ", ".join(f"{v:g}" for v in value) if isinstance(value, tuple) else str(value)
            else:
                control.value = value[0] if isinstance(value, tuple) else value  # one for all axes


def _value(parameter: Parameter, value):
    """A control's value as the function takes it: whole numbers are one for every axis (0: the default);
    a text box is read as the command line reads the flag.
    """
    if parameter.kind == "ints":
        return int(value) or None
    if parameter.kind in TEXT_KINDS:
        return parameter.from_text(value) if str(value).strip() else None  # an empty box: not given
    return float(value) if parameter.kind == "float" else value
