"""``slamon rules``: generate the Prometheus rules and their promtool tests from the catalogue.

    slamon rules [--catalogue DIR] [-o DIR] [--tests-dir DIR] [--alertmanager-config FILE] [--check]

Writes ``slamon-<office>.rules.yml`` per office and ``slamon-daemon-health.rules.yml``
into ``-o`` (default ``deploy/prometheus/rules``), and the ``promtool test rules``
files into ``--tests-dir`` (default: ``tests`` beside the rules directory). ``--check``
writes nothing and exits 1 when the files on disk differ from what would be generated.
``--alertmanager-config FILE`` also rewrites the generated section of dependency inhibit
rules in that Alertmanager configuration (``exporters.inhibitions``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from exporters.generated_files import FileSet, dump_yaml
from exporters.inhibitions import SectionMissing, update_config
from exporters.rules import DEFAULT_RUNBOOK_BASE, RuleOptions, build_rule_documents
from exporters.rules_tests import build_test_documents
from slamon.cli.common import (
    add_catalogue_option,
    add_check_option,
    add_output_option,
    write_or_check,
)
from slamon.loader import load_catalogue

DEFAULT_RULES_DIR = Path("deploy/prometheus/rules")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="generate Prometheus recording/alerting rules and their promtool tests",
        description=(
            "Write slamon-<office>.rules.yml per office and slamon-daemon-health.rules.yml into the "
            "rules directory, and the promtool unit tests into the tests directory. With --check, "
            "write nothing and exit 1 when the files on disk differ from what would be generated."
        ),
    )
    add_catalogue_option(parser, "the rules are generated from")
    add_output_option(parser, "rules directory", default=DEFAULT_RULES_DIR)
    parser.add_argument("--tests-dir", type=Path, default=None, metavar="DIR",
                        help="promtool test files (default: 'tests' beside the rules directory)")
    parser.add_argument("--runbook-base", default=DEFAULT_RUNBOOK_BASE, metavar="URL",
                        help="runbook document the alerts link to (default: %(default)s)")
    parser.add_argument("--alertmanager-config", type=Path, default=None, metavar="FILE",
                        help="also rewrite the dependency inhibit rules in this Alertmanager configuration's "
                             "generated section (e.g. deploy/alertmanager/alertmanager.yml)")
    add_check_option(parser)
    parser.set_defaults(handler=run)


def generated_files(catalogue, rules_dir: Path, tests_dir: Path, opts: RuleOptions) -> FileSet:
    rules = build_rule_documents(catalogue, opts)
    relative = os.path.relpath(rules_dir.resolve(), tests_dir.resolve())
    rule_paths = {name: Path(relative, name).as_posix() for name in rules}
    tests = build_test_documents(catalogue, rule_paths, opts)
    files = {rules_dir / name: dump_yaml(doc) for name, doc in rules.items()}
    files.update({tests_dir / name: dump_yaml(doc) for name, doc in tests.items()})
    return FileSet(files, owned=[(rules_dir, "slamon-*.rules.yml"), (tests_dir, "slamon-*.test.yml")])


def run(args: argparse.Namespace) -> int:
    report = load_catalogue(args.catalogue)
    if report.catalogue is None:
        for diagnostic in report.errors:
            print(diagnostic, file=sys.stderr)
        print(f"slamon rules: the catalogue in {args.catalogue} is invalid; nothing generated",
              file=sys.stderr)
        return 1
    tests_dir = args.tests_dir or args.output.parent / "tests"
    files = generated_files(report.catalogue, args.output, tests_dir, RuleOptions(args.runbook_base))
    if args.alertmanager_config is not None:
        try:
            current = args.alertmanager_config.read_text(encoding="utf-8")
            files.files[args.alertmanager_config] = update_config(current, report.catalogue)
        except (OSError, SectionMissing) as exc:
            print(f"slamon rules: --alertmanager-config {args.alertmanager_config}: {exc}", file=sys.stderr)
            return 1
    return write_or_check(
        "rules", files, args.check, f"(rules in {args.output}, tests in {tests_dir})"
    )
