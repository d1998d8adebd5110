"""Settings is the schema: flags, controls and checks are made from each field's declaration."""

import argparse
import dataclasses

import pytest

from nst_teach import BOOK, Settings
from nst_teach.cli import build_parser, flag_names, main
from nst_teach.config import COLOR_MODES
from nst_teach.fast.settings import FastSettings
from nst_teach.schema import Choice, Integer, UnknownSetting, Validated, setting


def subcommand(name):
    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return commands.choices[name]


def option_dests(parser):
    return {a.dest: a for a in parser._actions if a.option_strings}


@pytest.mark.parametrize("command, settings_class", [("transfer", Settings),
                                                     ("train-fast", FastSettings)])
def test_every_field_with_a_flag_has_it_and_every_flag_sets_its_field(command, settings_class):
    options = option_dests(subcommand(command))
    fields = {f.name: f for f in dataclasses.fields(settings_class)}
    for name, field in fields.items():
        if field.metadata["flag"] is False:
            continue
        action = options[name]
        assert action.default is None  # not given: the preset's value stays
        assert action.help.startswith(field.metadata["help"].replace("%", "%%"))
        default = field.default
        if default is not None and not isinstance(default, tuple):
            assert f"{default}" in action.help  # the default, from the declaration
    assert set(flag_names(settings_class).values()) == {
        name for name, field in fields.items() if field.metadata["flag"] is not False}


def test_a_flag_parses_to_what_the_field_stores():
    args = subcommand("transfer").parse_args(
        ["c", "s", "-o", "o.png", "--style-layers", "block1_conv1, block2_conv1",
         "--stages", "0.5:3,1:4", "--style-blend", "0.7,0.3", "--memory-limit", "2",
         "--height", "64"])
    assert args.style_layers == ("block1_conv1", "block2_conv1")
    assert args.stages == ((0.5, 3), (1.0, 4)) and args.style_blend == (0.7, 0.3)
    assert args.memory_limit_gb == 2.0 and args.height == 64 and args.seed is None
    fast = subcommand("train-fast").parse_args(["s", "-o", "m.keras", "--filters", "8,16,32"])
    assert FastSettings(filters=fast.filters).filters == (8, 16, 32)


def test_a_new_field_appears_as_a_flag_and_is_checked():
    @dataclasses.dataclass(frozen=True)
    class Demo(Validated):
        """A settings class with one field more."""

        size: int = setting(3, "how big", Integer(1), unit="px")
        mode: str = setting("a", "which way", Choice(("a", "b")), aliases=("manner",))

    from nst_teach.cli import add_setting_flags, given_settings

    parser = argparse.ArgumentParser()
    add_setting_flags(parser, Demo)
    args = parser.parse_args(["--size", "5", "--manner", "b"])
    assert Demo(**given_settings(args, Demo)) == Demo(size=5, mode="b")
    assert "how big, in px (default: 3)" in parser.format_help()
    with pytest.raises(ValueError, match="size must be an integer >= 1, got 0"):
        Demo(size=0)


def test_the_british_spelling_is_another_name_of_the_same_field():
    assert BOOK.replace(preserve_colour="luminance").preserve_color == "luminance"
    with pytest.raises(UnknownSetting, match="'preserve_colour' and 'preserve_color' name the same"):
        BOOK.replace(preserve_colour="post", preserve_color="none")
    assert set(COLOR_MODES) == {"none", "luminance", "histogram", "post"}


@pytest.mark.parametrize("wrong, nearest", [("heigth", "height"), ("style_wieght", "style_weight"),
                                            ("preserve_colours", "preserve_color"),
                                            ("optimiser", "optimizer")])
def test_a_misspelled_field_is_refused_naming_the_nearest(wrong, nearest):
    with pytest.raises(UnknownSetting, match=f"did you mean '{nearest}'") as error:
        BOOK.replace(**{wrong: 1})
    assert isinstance(error.value, ValueError) and isinstance(error.value, TypeError)
    with pytest.raises(UnknownSetting, match="did you mean 'steps'"):
        FastSettings().replace(stpes=3)
    with pytest.raises(TypeError, match="heigth"):  # Python's own error for a dataclass
        Settings(heigth=64)


def test_the_command_line_takes_both_spellings(tmp_path, capsys):
    options = option_dests(subcommand("transfer"))
    assert options["preserve_color"].option_strings == ["--preserve-color", "--preserve-colour"]
    assert "--preserve-colour" in options["preserve_color"].help
    for flag in ("--preserve-color", "--preserve-colour"):  # refused by the check, not argparse
        code = main(["transfer", "grace_hopper", "cubist", "-o", str(tmp_path / "x.png"),
                     flag, "sepia"])
        assert code == 2
        assert "--preserve-color must be one of" in capsys.readouterr().err


def test_the_checks_the_fast_settings_share():
    with pytest.raises(ValueError, match="size must be an integer >= 16"):
        FastSettings(size=8)
    with pytest.raises(ValueError, match="unknown layer 'block9_conv1'"):
        FastSettings(style_layers="block9_conv1")
    with pytest.raises(ValueError, match="filters must be 3 integers >= 1"):
        FastSettings(filters=(8, 16))
    assert FastSettings(style_layers=["block1_conv2"]).style_layers == ("block1_conv2",)
    assert FastSettings(**FastSettings().to_dict()) == FastSettings()  # what a model file keeps
