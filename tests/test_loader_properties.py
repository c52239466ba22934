"""Property tests: durations round-trip, and no input, however odd, makes the validator
raise instead of report."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from slamon.core.durations import format_duration, parse_duration
from slamon.core.model import Service
from slamon.loader import load_catalogue
from slamon.loader.codes import CODES
from slamon.loader.messages import translate_all
from slamon.loader.service_rules import check_service_data
from slamon.loader.yaml_nodes import YamlError, parse_document


@given(st.integers(min_value=0, max_value=10 * 365 * 86400))
def test_whole_second_durations_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=1, max_value=999))
def test_millisecond_durations_round_trip(ms):
    assert abs(parse_duration(format_duration(ms / 1000)) - ms / 1000) < 1e-9


@given(st.lists(st.tuples(st.integers(0, 99), st.sampled_from(["ms", "s", "m", "h", "d", "w"])), min_size=1, max_size=4))
def test_compound_durations_add_up(parts):
    text = "".join(f"{n}{unit}" for n, unit in parts)
    size = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    assert abs(parse_duration(text) - sum(n * size[u] for n, u in parts)) < 1e-6


FIELDS = [*Service.model_fields, "from", "probes", "kind", "url", "steps", "headers", "form", "sla"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from(["http", "journey", "tcp", "18:30", "${env:X}", "${x}", "${", "unog", "gold", "5s"]),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=25,
)
documents = st.dictionaries(st.sampled_from(FIELDS), values, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_mapping_gives_diagnostics_never_a_traceback(data):
    text = yaml.safe_dump(data, allow_unicode=True)
    try:
        doc = parse_document(text)
    except YamlError as exc:
        assert exc.code in CODES
        return
    findings = check_service_data("services/unog/x.yaml", doc.data)
    assert all(f.code in CODES for f in findings)
    try:
        Service.model_validate(doc.data)
    except Exception as exc:  # only a ValidationError may come out
        assert isinstance(exc, ValidationError), repr(exc)
        for t in translate_all(exc, doc, Service):
            assert t.code in CODES
            line, col = doc.position(t.anchor, at_key=t.at_key)
            assert line >= 1 and col >= 1
            assert t.message


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_read_or_refused_cleanly(text):
    try:
        doc = parse_document(text)
    except YamlError as exc:
        assert exc.code in CODES and exc.line >= 1
    else:
        assert isinstance(doc.data, dict)


def test_dates_survive():
    doc = parse_document("reviewed: 2026-03-01\n")
    assert doc.data == {"reviewed": dt.date(2026, 3, 1)}


MINI = Path(__file__).resolve().parent / "data" / "mini_catalogue"
service_like = st.fixed_dictionaries(
    {"apiVersion": st.just("slamon/v1"), "kind": st.just("Service"), "id": st.sampled_from(["unhq-identity", "unhq-x", 7])},
    optional={
        "office": st.sampled_from(["unhq", "unog", "nope", 1]),
        "tier": st.sampled_from(["gold", "silver", "tin", None]),
        "lifecycle": st.sampled_from(["production", "retired", "live"]),
        "depends_on": st.lists(st.sampled_from(["unog-email", "unhq-identity", "x", 3]), max_size=3),
        "sla": values,
        "automation": values,
        "practices": values,
        "probes": st.lists(values, max_size=3),
        "owner": values,
    },
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=service_like)
def test_whole_catalogue_load_never_raises(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("cat") / "catalogue"
    shutil.copytree(MINI, root)
    (root / "services" / "unhq" / "unhq-identity.yaml").write_text(yaml.safe_dump(data))
    report = load_catalogue(root, today=dt.date(2026, 6, 1))
    assert all(d.code in CODES and d.line >= 1 for d in report.diagnostics)
    assert (report.catalogue is None) == bool(report.errors)


url_texts = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda scheme, host, port, rest: f"{scheme}{host}{port}{rest}",
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:/", "", "https:"]),
        st.one_of(st.from_regex(r"[A-Za-z0-9.@\[\]:-]{0,12}", fullmatch=True), st.text(max_size=6)),
        st.one_of(st.just(""), st.integers(-5, 99999).map(lambda n: f":{n}"), st.sampled_from([":", ":x", ":٣"])),
        st.one_of(st.just(""), st.text(max_size=12).map(lambda t: "/" + t), st.sampled_from(["?a=1", "#f", "/ x", "/\t"])),
    ),
)


@settings(max_examples=400, deadline=None)
@given(url_texts)
def test_url_fast_path_agrees_with_the_full_check(text):
    """A URL the quick pattern accepts is one the full URL check accepts too."""
    from pydantic_core import PydanticCustomError

    from slamon.core.model import _url, _url_checked

    def outcome(check):
        try:
            return check(text)
        except PydanticCustomError as exc:
            return ("error", exc.message())

    assert outcome(_url) == outcome(_url_checked) or "${" in text


def test_service_files_are_listed_as_rglob_would(tmp_path):
    """The folder walk finds, orders and skips the same entries as ``Path.rglob("*")``."""
    import os

    from slamon.loader.load import _Pass, _service_files

    services = tmp_path / "services"
    for rel in ["unog/b.yaml", "unog/a.yaml", "unog/c.yml", "unhq/x.yaml", "unhq/.hidden.yaml",
                ".git/y.yaml", "top.yaml", "unog/deep/z.yaml", "unog/noext", "unog/a.yaml.bak",
                "unog-a/k.yaml", "unog/..yaml", "unog/d."]:
        (services / rel).parent.mkdir(parents=True, exist_ok=True)
        (services / rel).write_text("x: 1\n")
    (services / "unog" / "folder.yaml").mkdir()
    os.symlink(services / "unog", services / "linked")  # listed, not entered
    os.symlink(services / "unog" / "a.yaml", services / "unhq" / "link.yaml")
    os.symlink(tmp_path / "missing.yaml", services / "unhq" / "dangling.yaml")

    def by_rglob():
        out, diags = [], []
        for path in sorted(services.rglob("*"), key=lambda q: q.parts):
            rel_parts = path.parts[len(tmp_path.parts):]
            if any(part.startswith(".") for part in rel_parts) or not path.is_file():
                continue
            rel = "/".join(rel_parts)
            if path.suffix == ".yml":
                diags.append(rel)
            elif path.suffix == ".yaml":
                (out if len(rel_parts) == 3 else diags).append(rel)
        return out, diags

    p = _Pass(tmp_path)
    found = _service_files(p)
    assert (found, [d.file.removeprefix(f"{tmp_path}/") for d in p.diagnostics]) == by_rglob()
    assert "services/unhq/link.yaml" in found and "services/unog/deep/z.yaml" not in found


def test_instances_given_the_same_fields_share_one_fields_set(tmp_path):
    """Loaded models share their set of given field names; copying one with changes
    leaves the others as they were."""
    from benchmarks.synth import write_catalogue

    report = load_catalogue(write_catalogue(tmp_path / "catalogue", 4))
    assert report.catalogue is not None
    first, second = list(report.catalogue.services.values())[:2]
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.probes[0].__pydantic_fields_set__ is second.probes[0].__pydantic_fields_set__
    before = set(second.model_fields_set)
    changed = first.model_copy(update={"tags": ["x"]})
    assert "tags" in changed.model_fields_set and "tags" not in before
    assert second.model_fields_set == before == first.model_fields_set
    assert second.model_dump(exclude_unset=True).keys() == before


yaml_styles = st.sampled_from([{"default_flow_style": False}, {"default_flow_style": True}, {"default_flow_style": None}])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, yaml_styles, st.sampled_from(["", "id: again\n", "x: {a: 1, a: 2}\n", "y: [!!str 1]\n", "z: !!binary aGk=\n"]))
def test_plain_builder_matches_the_alias_aware_builder(data, style, extra):
    """Without anchors, the fast builder gives the alias-aware builder's data and problems
    (or the same error)."""
    from slamon.loader.yaml_nodes import _Builder, _PlainBuilder, compose

    text = yaml.safe_dump(data, allow_unicode=True, **style) + extra
    try:
        root = compose(text)
    except yaml.YAMLError:
        return

    def outcome(builder, path):
        try:
            return builder.build(root, 0, path), builder.problems
        except YamlError as exc:
            return exc.code, exc.message, exc.line, exc.column

    assert outcome(_PlainBuilder(), None) == outcome(_Builder(), ())


probe_texts = st.sampled_from(
    ["http", "journey", "https://u:p@h/x", "http://h/?token=1", "http://h/${x}", "http://h/${env:X}", "http://h/p",
     "a=1&password=x", "${", "Authorization", "secret"]
)
probe_values = st.one_of(probe_texts, scalars, st.dictionaries(probe_texts, st.one_of(probe_texts, scalars), max_size=3))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["kind", "url", "headers", "form", "body", "id"]), probe_values, max_size=6),
    scalars,
), max_size=3))
def test_secret_and_reference_rules_skip_only_probes_with_nothing_to_find(probes):
    """The shortcut for a plain http probe finds what the full rules find."""
    from slamon.loader import service_rules as sr

    full = []
    for i, probe in enumerate(probes):
        if isinstance(probe, dict):
            for where, req in sr._requests(probe, ("probes", i)):
                full.extend(sr._secrets("f", where, req))
            full.extend(sr._references("f", probe, ("probes", i)))
    assert sr.check_service_data("f", {"probes": probes}) == full


def test_documents_read_the_same_with_libyaml_and_pure_python():
    """The reader composes with PyYAML's libyaml loader when it has one; the pure-Python
    loader (a PyYAML built without libyaml) must read every bundled file to the same
    data and marks."""
    from slamon.loader import yaml_nodes

    files = sorted(Path("catalogue").rglob("*.yaml"))[:40]
    assert files
    for f in files:
        text = f.read_text()
        fast = parse_document(text)
        pure_root = yaml_nodes.compose(text, yaml_nodes._PureLoader)
        pure = yaml_nodes.Document(yaml_nodes._Builder().build(pure_root, 0, ()), pure_root)
        assert fast.data == pure.data
        assert [fast.position(p) for p in _paths(fast.data)] == [pure.position(p) for p in _paths(fast.data)]


def test_reading_leaves_other_yaml_users_alone():
    """Parsing catalogue files in one thread while another thread uses PyYAML's own C
    loader and dumper: neither sees anything of the other (no shared state is changed)."""
    import threading

    text = Path("catalogue/offices.yaml").read_text()
    expected = yaml.load(text, Loader=yaml.CSafeLoader)
    failures: list[BaseException] = []
    stop = threading.Event()

    def other_user() -> None:
        while not stop.is_set():
            try:
                assert yaml.load(text, Loader=yaml.CSafeLoader) == expected
                yaml.dump(expected, Dumper=yaml.CSafeDumper)
            except BaseException as exc:  # any failure is the finding
                failures.append(exc)
                return

    thread = threading.Thread(target=other_user)
    thread.start()
    try:
        for _ in range(300):
            parse_document(text)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not failures, failures[:1]


def _paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*prefix, i))
