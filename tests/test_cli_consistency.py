"""The command line speaks one language: every option explained without markup, one
output flag, one set of period labels, a did-you-mean for offices and periods."""

from __future__ import annotations

import argparse
import datetime as dt
import re

import pytest

from slamon.cli import build_parser
from slamon.core.sla.periods import PeriodError, check_label

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
MARKUP = re.compile(r"``|:class:|:func:|:meth:|\.\. [a-z]+::")


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "slamon"):
    yield prefix, parser
    for action in parser._actions:  # argparse keeps its sub-parsers here (no public accessor)
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _subparsers(sub, f"{prefix} {name}")


COMMANDS = list(_subparsers(build_parser()))


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_option_has_help_and_no_markup(name, parser):
    text = parser.format_help()
    assert not MARKUP.search(text), f"{name} --help shows markup:\n{text}"
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help is not argparse.SUPPRESS, f"{name}: {label} has no help text"


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_output_flag_is_o_or_output(name, parser):
    for action in parser._actions:
        flags = set(action.option_strings)
        if action.dest in ("output", "out") or flags & {"--out", "--output", "-o"}:
            assert {"-o", "--output"} <= flags, f"{name}: output flag is {sorted(flags)}"


def test_every_period_command_takes_the_same_labels():
    takes_period = [name for name, parser in COMMANDS
                    if any("--period" in a.option_strings for a in parser._actions)]
    assert sorted(takes_period) == ["slamon report", "slamon sla"]
    for name, parser in COMMANDS:
        for action in parser._actions:
            if "--period" in action.option_strings:
                for form in (r"\bcurrent\b", r"\bprevious\b", r"\d{4}-Q\d", r"\d{4}-\d{4}",
                             r"\d{4}-\d{2}\b", "rolling-30d"):
                    assert re.search(form, action.help), (name, form)


@pytest.mark.parametrize("label", ["current", "previous", "2026-11", "2026-Q3", "2026-q3", "2026",
                                   "2026-2027", "rolling-30d", " 2026-11 "])
def test_period_labels_accepted(label):
    assert check_label(label, NOW) == label.strip()


@pytest.mark.parametrize(("label", "guess"), [
    ("2026q3", "2026-Q3"), ("Q3 2026", "2026-Q3"), ("2026-3", "2026-03"), ("202611", "2026-11"),
    ("2026-27", "2026-2027"), ("2027-2028", "2026-2027"), ("curent", "current"), ("previos", "previous"),
    ("rolling30d", "rolling-30d"),
])
def test_period_labels_get_a_did_you_mean(label, guess):
    with pytest.raises(PeriodError, match=re.escape(f"did you mean {guess!r}?")):
        check_label(label, NOW)


@pytest.mark.parametrize("label", ["2026-13", "last-month", "2026-Q5", ""])
def test_period_labels_refused_name_the_forms(label):
    with pytest.raises(PeriodError, match="current, previous, 2026-11"):
        check_label(label, NOW)


# Options several commands take are defined once (slamon.cli.common): the same metavar
# wherever they appear, and their defaults written one way.
SHARED_METAVARS = {"--catalogue": "DIR", "--db": "URL", "--at": "ISO", "--period": "LABEL",
                   "--today": "YYYY-MM-DD", "--listen": "HOST:PORT"}


@pytest.mark.parametrize(("name", "parser"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_shared_options_read_the_same_everywhere(name, parser):
    for action in parser._actions:
        for flag in set(action.option_strings) & set(SHARED_METAVARS):
            assert action.metavar == SHARED_METAVARS[flag], (name, flag, action.metavar)
        if action.help and "default" in action.help:
            assert not re.search(r"\(default [^:]", action.help), f"{name}: {action.help!r} (write 'default: ')"


def test_office_ids_split_commas_and_keep_each_office_once_in_order():
    from slamon.cli.common import office_ids

    assert office_ids(["unog,unon", "unog", "", "nairobi,"]) == ("unog", "unon", "nairobi")
    assert office_ids([]) == ()
