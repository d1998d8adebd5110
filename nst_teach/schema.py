"""Settings as a schema: each field carries its check, help text, unit and control.

A field is declared once, with `setting(default, help, check, ...)`; the
validation (`validate`), the command line's flags (`nst_teach.cli`) and the
playground's controls (`nst_teach.form`) are all read from it, so a new field
appears in all three at once. Such a class (`nst_teach.config.Settings`,
`nst_teach.fast.FastSettings`) is a frozen dataclass based on `Validated`:
its `replace` also accepts a field's aliases, declared beside the field
(``preserve_colour`` for ``preserve_color``), and refuses a misspelled name
with the nearest valid one.

Plain Python (no TensorFlow, no ipywidgets): ``nst-teach --help`` stays fast.
"""

from __future__ import annotations

__all__ = [
    "Check", "Integer", "Number", "Choice", "Text", "Numbers", "Integers", "Names", "Stages", "Optional",
    "Control", "setting", "Validated", "validate", "canonical_names", "UnknownSetting",
    "comma_list", "comma_numbers", "parse_stages", "flag_of", "flag_help", "SettingError",
    "in_flag_words",
]

import argparse
import dataclasses
import difflib
import math
import numbers
import os
import re
from dataclasses import dataclass


class SettingError(ValueError):
    """A setting's value that cannot be used; `field` names the setting that fixes it.

    Raised by every field's check (`validate` fills in `field`), by the checks
    that involve several fields (`Settings.__post_init__`) and by the run's
    own checks of the settings (`nst_teach.memory.RunTooLarge`). The message
    uses the field's Python name; the command line names the flag instead
    (`in_flag_words`), the playground marks the control (`nst_teach.form`).

    Used by `nst_teach.config`, `nst_teach.memory` and `nst_teach.cli`.
    """

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class UnknownSetting(SettingError, TypeError):
    """A keyword that names no field: the message names the nearest valid one.

    A `ValueError` like every other bad setting, and a `TypeError` like any
    unknown keyword argument in Python. Used by `nst_teach.schema`.
    """


# --- the command line's spellings of lists -------------------------------------------


def comma_list(text):
    """`--style-layers a,b`: the names, empty ones dropped. Used by `nst_teach.schema`."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def comma_numbers(text):
    """`--style-blend 0.7,0.3`: the numbers, or an error naming what is wrong.

    Used by `nst_teach.schema`.
    """
    try:
        return tuple(float(item) for item in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.7,0.3, got {text!r}") from None


def parse_stages(text):
    """``"0.25:60,1:200"`` -> ``((0.25, 60), (1.0, 200))`` for ``--stages``.

    Used by `nst_teach.schema`.
    """
    try:
        return tuple((float(f), int(n)) for f, n in (stage.split(":") for stage in text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--stages takes FRACTION:EVALUATIONS pairs, e.g. 0.5:80,1:200; got {text!r}") from None


# --- checks: value -> the value as stored, or a ValueError naming the field --------------


class Check:
    """Checks one field's value and parses it from the command line's text.

    `__call__(name, value)` returns the value as stored (a tuple for a list,
    a Python int for a NumPy integer) or raises `ValueError` naming `name`.
    Used by `nst_teach.schema`.
    """

    def __call__(self, name, value):
        return value

    def parse(self, text):
        """The command line's text as a value."""
        return text


@dataclass(frozen=True)
class Integer(Check):
    """Any integer (NumPy's too) >= `low`, stored as a Python int. Used by `nst_teach.config`."""

    low: int = 0

    def __call__(self, name, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < self.low:
            raise SettingError(f"{name} must be an integer >= {self.low}, got {value!r}")
        return int(value)

    parse = staticmethod(int)


@dataclass(frozen=True)
class Number(Check):
    """A finite real number (NumPy's too) >= 0, or > 0 if `positive`, and < `below` if given.

    Used by `nst_teach.config`.
    """

    positive: bool = False
    below: float | None = None

    def __call__(self, name, value):
        bounds = ("> 0" if self.positive else ">= 0") + (
            f" and < {self.below:g}" if self.below is not None else "")
        if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value)
                or value < 0 or (self.positive and value == 0)
                or (self.below is not None and value >= self.below)):
            raise SettingError(f"{name} must be a finite number {bounds}, got {value!r}")
        return value if isinstance(value, int) else float(value)

    parse = staticmethod(float)


def _finite(value):
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


@dataclass(frozen=True)
class Choice(Check):
    """One of `options`; with `what`, the error says "unknown <what>" and `hint`.

    Used by `nst_teach.config`.
    """

    options: tuple
    what: str = ""
    hint: str = ""

    def __call__(self, name, value):
        if value not in self.options:
            if self.what:
                raise SettingError(f"unknown {self.what} {value!r}{self.hint}")
            raise SettingError(f"{name} must be one of {self.options}, got {value!r}")
        return value


@dataclass(frozen=True)
class Text(Check):
    """Free text; with `path`, a file path (a str or os.PathLike), `what` in the error.

    Used by `nst_teach.config`.
    """

    path: bool = False
    what: str = "the path of a file"

    def __call__(self, name, value):
        if not isinstance(value, (str, os.PathLike) if self.path else str):
            raise SettingError(f"{name} must be {self.what if self.path else 'text'}, got {value!r}")
        return value


def _sequence(name, value):
    """A list or tuple (a NumPy array too) as a tuple; a lone value is refused."""
    if isinstance(value, (str, bytes, dict, set)) or not hasattr(value, "__iter__"):
        raise SettingError(f"{name} must be a list or tuple, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class Numbers(Check):
    """A list of numbers >= 0 (`Number`), stored as a tuple; with `some_positive`, not all 0.

    Used by `nst_teach.config`.
    """

    some_positive: bool = False

    def __call__(self, name, value):
        value = tuple(Number()(f"every entry of {name}", item) for item in _sequence(name, value))
        if self.some_positive and not any(value):
            raise SettingError(f"{name} must have at least one weight > 0")
        return value

    parse = staticmethod(comma_numbers)


@dataclass(frozen=True)
class Integers(Check):
    """Exactly `count` integers >= `low` (`Integer`), stored as a tuple.

    Used by `nst_teach.fast.settings`.
    """

    count: int
    low: int = 1

    def __call__(self, name, value):
        value = _sequence(name, value)
        if len(value) != self.count:
            raise SettingError(f"{name} must be {self.count} integers >= {self.low}, got {value!r}")
        return tuple(Integer(self.low)(f"every entry of {name}", item) for item in value)

    def parse(self, text):
        try:
            return tuple(int(item) for item in comma_list(text))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {self.count} comma-separated integers, got {text!r}") from None


@dataclass(frozen=True)
class Names(Check):
    """A non-empty list of names (text ``"a,b"`` too), each one of `options` if given.

    `what` names one item in the errors, `hint` follows them.
    Used by `nst_teach.config`.
    """

    options: tuple | None = None
    what: str = "name"
    hint: str = ""

    def __call__(self, name, value):
        if isinstance(value, str):  # "block1_conv1" or "block1_conv1,block2_conv1"
            value = comma_list(value)
        value = _sequence(name, value)
        if not value:
            raise SettingError(f"{name} must name at least one {self.what}{self.hint}")
        for item in value:
            if self.options is not None and item not in self.options:
                raise SettingError(f"unknown {self.what} {item!r}{self.hint}")
        return value

    parse = staticmethod(comma_list)


@dataclass(frozen=True)
class Stages(Check):
    """((fraction of the height, evaluations), ...): fractions grow to 1. Used by `nst_teach.config`."""

    def __call__(self, name, value):
        example = "for example ((0.25, 60), (0.5, 80), (1.0, 200))"
        try:
            fractions, evaluations = zip(*value)
        except (TypeError, ValueError):
            raise SettingError(f"{name} must be (fraction of height, evaluations) pairs, {example}; "
                             f"got {value!r}") from None
        for fraction in fractions:
            Number(positive=True)("every stage's fraction of the height", fraction)
        for n in evaluations:
            if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
                raise SettingError(f"every stage's evaluations must be an integer >= 1, got {n!r}")
        if list(fractions) != sorted(set(fractions)) or fractions[-1] != 1:
            raise SettingError(f"stage fractions must grow and the last must be 1 (full size), "
                             f"{example}; got {fractions}")
        return tuple((float(f), int(n)) for f, n in value)

    parse = staticmethod(parse_stages)


@dataclass(frozen=True)
class Optional(Check):
    """None, or what `check` accepts. Used by `nst_teach.config`."""

    check: Check

    def __call__(self, name, value):
        return None if value is None else self.check(name, value)

    def parse(self, text):
        return self.check.parse(text)


# --- fields -------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """How the playground shows a field (`nst_teach.form` builds the widget).

    `kind`: "slider" (int or float, from the default's type), "log" (a log
    slider; `low`, `high` are powers of ten), "menu" (the check's options),
    "number" (a text box), "layer" or "layers" (the backbone's layer names).
    `label` is the short description, `group` the box it goes in.

    Used by `nst_teach.config`.
    """

    kind: str
    group: str
    label: str = ""
    low: float | None = None
    high: float | None = None
    step: float | None = None


def setting(default, help, check, *, unit="", control=None, flag=True, aliases=(),
            in_loss_graph=False):
    """A dataclass field that carries everything the library says about it.

    Parameters
    ----------
    default
        The value when none is given.
    help : str
        One line for ``--help`` and the playground's tooltip.
    check : Check
        Validates (and normalises) a value; its `parse` reads the command line's text.
    unit : str
        Shown after the help text, e.g. "px".
    control : Control or None
        The playground's control; None: no control, the field keeps its value.
    flag : bool or str
        The command-line flag: True for ``--field-name``, a string for another
        name, False for none.
    aliases : tuple of str
        Other accepted keyword names (and flags), e.g. the British spelling.
    in_loss_graph : bool
        `nst_teach.losses.weighted_losses` reads it: a change traces a new graph
        (`nst_teach.caches.settings_key`).

    Returns
    -------
    dataclasses.Field

    Used by `nst_teach.config`.
    """
    return dataclasses.field(default=default, metadata={
        "help": help, "check": check, "unit": unit, "control": control, "flag": flag,
        "aliases": tuple(aliases), "in_loss_graph": in_loss_graph})


def validate(instance):
    """Run every field's check on `instance` (a frozen dataclass), storing what it returns.

    Used by `nst_teach.schema`.
    """
    for field in dataclasses.fields(instance):
        check = field.metadata.get("check")
        if check is not None:
            try:
                value = check(field.name, getattr(instance, field.name))
            except SettingError as error:
                error.field = error.field or field.name
                raise
            object.__setattr__(instance, field.name, value)


def canonical_names(cls, changes):
    """`changes` with each alias replaced by its field's name; unknown names are refused.

    Raises `UnknownSetting` naming the nearest valid field for a misspelling.
    Used by `nst_teach.schema`.
    """
    fields = dataclasses.fields(cls)
    names = {field.name: field.name for field in fields}
    names.update({alias: field.name for field in fields for alias in field.metadata.get("aliases", ())})
    out, given = {}, {}
    for key, value in changes.items():
        if key not in names:
            nearest = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
            hint = (f"did you mean {names[nearest[0]]!r}?" if nearest
                    else f"the fields are {', '.join(field.name for field in fields)}")
            raise UnknownSetting(f"{cls.__name__} has no field {key!r}: {hint}", key)
        name = names[key]
        if name in out:
            raise UnknownSetting(f"{given[name]!r} and {key!r} name the same field {name!r}: "
                                 "give it once", name)
        out[name], given[name] = value, key
    return out


class Validated:
    """The base of a settings dataclass: every field checked on creation, `replace` by name.

    A subclass is a ``@dataclass(frozen=True)`` whose fields are declared with
    `setting`; each field's check runs first (`validate`), then the
    subclass's own ``__post_init__`` may check fields together (calling
    ``super().__post_init__()`` first). ``replace(**changes)`` accepts a
    field's aliases (``preserve_colour``) and refuses an unknown name with
    `UnknownSetting` naming the nearest field (`canonical_names`).

    Used by `nst_teach.config` and `nst_teach.fast.settings`.
    """

    def __post_init__(self):
        validate(self)

    def replace(self, **changes):
        """A copy with some fields changed (and validated); aliases are accepted."""
        return dataclasses.replace(self, **canonical_names(type(self), changes))

    @property
    def unused(self):
        """The fields whose values these settings do not use (a subclass names them)."""
        return frozenset()

    def changed_from(self, other, *, unused=False):
        """``{field: this value}`` for every field that differs from `other`'s.

        What a preset changes, taught in notebooks 09 and 10; used by `nst_teach.widgets`.
        A value that does nothing here is no change worth showing, so the
        fields in `unused` are left out unless ``unused=True``.
        """
        skip = frozenset() if unused else self.unused
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if field.name not in skip and getattr(self, field.name) != getattr(other, field.name)}


# --- the command line's view of a field ---------------------------------------------------


def flag_of(field):
    """The command-line flags of a field: (its flag, its aliases' flags), or None.

    Used by `nst_teach.cli`.
    """
    flag = field.metadata.get("flag", True)
    if flag is False:
        return None
    main = flag if isinstance(flag, str) else "--" + field.name.replace("_", "-")
    return main, tuple("--" + alias.replace("_", "-") for alias in field.metadata.get("aliases", ()))


def flag_help(field, default_label="default"):
    """The ``--help`` text of a field: its help, unit, options and default.

    Used by `nst_teach.cli`.
    """
    meta = field.metadata
    text = meta["help"]
    if meta.get("unit"):
        text += f", in {meta['unit']}"
    check = meta["check"]
    check = check.check if isinstance(check, Optional) else check
    if isinstance(check, Choice) and not check.what:
        text += f", one of {', '.join(check.options)}"
    if field.default is not None:
        default = field.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        text += f" ({default_label}: {shown})"
    if meta.get("aliases"):
        text += "; also spelt " + ", ".join("--" + a.replace("_", "-") for a in meta["aliases"])
    return text.replace("%", "%%")  # argparse formats help with %


def in_flag_words(error, settings_class):
    """A `SettingError`'s message in the command line's words: its field becomes its flag.

    The first mention of ``error.field`` becomes the flag (``seed must be`` ->
    ``--seed must be``); a message that does not mention it gets the flag in
    front (``--style-layers: unknown layer 'nope' ...``). Other fields named
    in the message (any with an underscore: ``tv_weight``) become their flags
    too. Used by `nst_teach.cli`.
    """
    flags = {field.name: flag_of(field)[0] for field in dataclasses.fields(settings_class)
             if flag_of(field) is not None}
    message, flag = str(error), flags.get(error.field)
    if flag is not None:
        own = re.compile(rf"(?<![\w-]){re.escape(error.field)}(?![\w-])")
        message = own.sub(flag, message, count=1) if own.search(message) else f"{flag}: {message}"
    return re.sub(r"(?<![\w-])[a-z]+(?:_[a-z0-9]+)+(?![\w-])",
                  lambda match: flags.get(match.group(), match.group()), message)
