"""Rendering ``/metrics``: content negotiation and cheap exposition of large estates.

prometheus_client's encoders format every sample on every scrape, on the event loop
(its cost per series is in docs/benchmarks.md). A collector here may instead offer
``exposition_chunks(openmetrics: bool) -> list[bytes]``: the complete text of its
families, assembled from sample lines it keeps rendered between scrapes (see
``exporters.metrics``), and ``exposition_steps(openmetrics)``: the same, as a
generator that yields between short steps and returns the chunks. ``render`` uses
those where offered and prometheus_client's own encoders for every other collector,
and negotiates the format exactly as prometheus_client does, so the output is byte
for byte what ``prometheus_client.exposition.generate_latest`` (or the OpenMetrics
one) would give.

The helpers below (``Spec``, ``LineFormatter``, ``Labels``, ``family_header``) are
what such a collector uses to produce identical lines.

Wiring (in the daemon). The daemon renders on the event loop, where results are
recorded, so no thread reads the runtime while it changes; ``render_async`` does it
in short steps (``STEP_SECONDS``) and lets the loop run between them, so a scrape of a large
estate never holds the loop for long (the cache keeps it to the series that
changed). Each service's series come from one step; a scrape is not one atomic
snapshot across services, as with any exporter of live state::

    registry = ExpositionRegistry()           # private, never the global one
    registry.register(SlamonCollector(runtime))
    body, content_type = await render_async(registry, request.headers.get("Accept"))
"""

from __future__ import annotations

import asyncio
import bisect
import io
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from prometheus_client.exposition import choose_encoder
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

OPENMETRICS_PREFIX = "application/openmetrics-text"


@dataclass(frozen=True, slots=True)
class Spec:
    """One metric family: name as prometheus_client takes it (a counter without
    ``_total``, an info metric without ``_info``), type, help and label names."""

    name: str
    kind: str  # gauge | counter | info
    help: str
    labels: tuple[str, ...]

    @property
    def sample_name(self) -> str:
        return self.name + {"counter": "_total", "info": "_info"}.get(self.kind, "")

    def family(self) -> Metric:
        cls = {"gauge": GaugeMetricFamily, "counter": CounterMetricFamily, "info": InfoMetricFamily}
        return cls[self.kind](self.name, self.help, labels=self.labels)

    def add(self, family: Metric, values: Sequence[str], value: float) -> None:
        if self.kind == "info":
            family.add_metric(values, {})
        else:
            family.add_metric(values, value)


class _Families:
    """A stand-in collector yielding given families (for prometheus_client's encoders)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def render_families(families: Iterable[Metric], openmetrics: bool) -> str:
    """Families as prometheus_client renders them (without OpenMetrics' ``# EOF``)."""
    if openmetrics:
        text = generate_openmetrics(_Families(families)).decode("utf-8")
        return text[: -len("# EOF\n")]
    return generate_text(_Families(families)).decode("utf-8")


@lru_cache(maxsize=512)
def family_header(spec: Spec, openmetrics: bool) -> bytes:
    """``# HELP`` and ``# TYPE`` lines of a family, exactly as prometheus_client writes them."""
    return render_families([spec.family()], openmetrics).encode()


def escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@lru_cache(maxsize=8192)
def _go_float_slow(value: float) -> str:
    return floatToGoString(value)


_NEG_INF = float("-inf")


def go_float(value: float) -> str:
    """A number exactly as prometheus_client's ``floatToGoString`` writes it, faster.

    Small integers (0/1 gauges, status codes, counters) and floats below 1e6 print
    as Python's ``repr`` does; the rest (timestamps, which repeat across series;
    NaN, infinities) go through ``floatToGoString``, memoised.
    """
    if value.__class__ is int:
        if 0 <= value < 1_000_000:
            return f"{value}.0"
    elif _NEG_INF < value < 1e6:  # false for NaN
        return repr(float(value))
    return _go_float_slow(value)


class LineFormatter:
    """Formats samples of known families into exposition lines.

    Lines are identical in the text format and in OpenMetrics (labels sorted by
    name, values escaped, numbers as Go prints them), so one rendering serves both.

    ``part()`` is the fast path: the samples of one probe (or service, or SLA
    snapshot) share their leading "base" labels, which are escaped and sorted once;
    each sample adds at most one extra label. ``line()`` formats any sample.
    """

    def __init__(self, specs: Sequence[Spec]) -> None:
        self._names = [s.sample_name for s in specs]
        self._extra = [s.labels[-1] if s.labels else "" for s in specs]
        self._templates = [self._template(s) for s in specs]
        self._escaped: dict[str, str] = {}  # extra label values (phases, reasons, steps): bounded
        self._layouts: dict[tuple[str, ...], tuple[list[int], list[str]]] = {}

    @staticmethod
    def _template(spec: Spec) -> str:
        order = sorted(range(len(spec.labels)), key=lambda i: spec.labels[i])
        inner = ",".join(f'{spec.labels[i]}="{{{i}}}"' for i in order)
        labels = "{{" + inner + "}}" if inner else ""
        return f"{spec.sample_name}{labels} {{{len(spec.labels)}}}\n"

    def line(self, family: int, values: Sequence[str], value: float) -> str:
        out = [escape_label_value(v) for v in values]
        out.append(go_float(value))
        return self._templates[family].format(*out)

    def labels(self, base_names: tuple[str, ...], base_values: Sequence[str]) -> Labels:
        """The base labels of a part, escaped and sorted once (a caller keeps them)."""
        layout = self._layouts.get(base_names)
        if layout is None:
            order = sorted(range(len(base_names)), key=lambda i: base_names[i])
            layout = self._layouts[base_names] = (order, [base_names[i] for i in order])
        order, names = layout
        pairs = [f'{names[j]}="{escape_label_value(base_values[i])}"' for j, i in enumerate(order)]
        return Labels(names, pairs)

    def part(
        self,
        labels: Labels,
        samples: Iterable[tuple[int, tuple[str, ...], float]],
        offset: int,
        count: int,
    ) -> tuple[bytes, ...]:
        """Lines of one part, one UTF-8 chunk per family ``offset .. offset+count-1``.

        Each sample is ``(family, extra label values, value)``; a family's labels are
        the base ``labels`` followed by at most one extra label. Hot path: a probe's
        lines are re-rendered here after each of its results.
        """
        whole = labels.whole
        splits: dict[str, tuple[str, str]] = {}
        out: list[list[str]] = [[] for _ in range(count)]
        sample_names, extras, escaped = self._names, self._extra, self._escaped
        for family, extra, value in samples:
            # go_float(), inlined
            if value.__class__ is int and 0 <= value < 1_000_000:
                number = f"{value}.0"
            elif value.__class__ is float and _NEG_INF < value < 1e6:
                number = repr(value)
            else:
                number = _go_float_slow(value)
            if not extra:
                out[family - offset].append(f"{sample_names[family]}{{{whole}}} {number}\n")
                continue
            extra_name = extras[family]
            split = splits.get(extra_name)
            if split is None:
                split = splits[extra_name] = labels.split(extra_name)
            ev = escaped.get(extra[0])
            if ev is None:
                if len(escaped) > 10_000:
                    escaped.clear()
                ev = escaped[extra[0]] = escape_label_value(extra[0])
            out[family - offset].append(f"{sample_names[family]}{{{split[0]}{ev}{split[1]}}} {number}\n")
        return tuple([("".join(t) if len(t) != 1 else t[0]).encode() for t in out])


class Labels:
    """Escaped, sorted base labels of one part (a probe, a service, an SLA snapshot),
    kept by the caller between renders: ``whole`` is the label set as written between
    braces, ``cuts`` where each label starts in it (and its length)."""

    __slots__ = ("cuts", "names", "whole")

    def __init__(self, names: list[str], pairs: list[str]) -> None:
        self.names = names  # shared by every part with the same label names
        self.whole = ",".join(pairs)
        cuts = [0]
        for pair in pairs:
            cuts.append(cuts[-1] + len(pair) + 1)
        self.cuts = tuple(cuts)

    def split(self, extra_name: str) -> tuple[str, str]:
        """What goes before and after the value of an extra label sorted in among these."""
        k = bisect.bisect(self.names, extra_name)
        whole, n = self.whole, len(self.names)
        if k == n:
            left, right = (whole + "," if n else ""), ""
        else:
            cut = self.cuts[k]
            left, right = whole[:cut], "," + whole[cut:]  # left: empty or ends with ","
        return left + extra_name + '="', '"' + right


class ExpositionRegistry(CollectorRegistry):
    """A ``CollectorRegistry`` that keeps its own list of its collectors, in the order
    they were registered, so ``render_steps`` can offer each the fast path.

    prometheus_client has no public way to list a registry's collectors; this class
    only overrides the public ``register`` and ``unregister``. Any other registry is
    rendered by prometheus_client's own encoders (same bytes, without the cache)."""

    def __init__(self, auto_describe: bool = False, target_info: dict[str, str] | None = None) -> None:
        super().__init__(auto_describe=auto_describe, target_info=target_info)
        self._slamon_collectors: list[Collector] = []
        self._slamon_lock = threading.Lock()

    def register(self, collector: Collector) -> None:
        with self._slamon_lock:
            super().register(collector)  # raises on a duplicate name: then not listed
            self._slamon_collectors.append(collector)

    def unregister(self, collector: Collector) -> None:
        with self._slamon_lock:
            super().unregister(collector)
            self._slamon_collectors.remove(collector)

    @property
    def collectors(self) -> list[Collector]:
        with self._slamon_lock:
            return list(self._slamon_collectors)


def fast_path_available(source: Collector | CollectorRegistry) -> bool:
    """Whether ``render_steps`` can use the collectors' own cached exposition for
    ``source`` (the daemon logs it at startup and exports it)."""
    return _collectors(source) is not None


def _collectors(source: Collector | CollectorRegistry) -> list[Collector] | None:
    """The collectors behind a registry, in its order; None when it cannot tell."""
    if isinstance(source, ExpositionRegistry):
        if source.get_target_info():
            return None  # a target_info family: leave it to prometheus_client entirely
        return source.collectors
    if isinstance(source, CollectorRegistry):
        return None
    return [source]


WRITE_STEP_BYTES = 2 << 20
"""How much of the body ``render_steps`` writes in one step."""


def render_steps(
    source: Collector | CollectorRegistry, accept_header: str | None
) -> Generator[None, None, tuple[bytes, str]]:
    """``render`` in short steps: a generator that yields between them and returns
    ``(body, content_type)``. Collectors offering ``exposition_steps`` are rendered
    step by step, the others (few series) in one step each."""
    encoder, content_type = choose_encoder(accept_header or "")
    openmetrics = content_type.startswith(OPENMETRICS_PREFIX)
    escaping = content_type.partition("escaping=")[2].strip()
    collectors = _collectors(source)
    if collectors is None or escaping not in ("", "underscores", "allow-utf-8"):
        # "dots"/"values" escaping rewrite even legacy names: prometheus_client does it
        return encoder(source), content_type
    chunks: list[bytes] = []
    for collector in collectors:
        steps = getattr(collector, "exposition_steps", None)
        fast = getattr(collector, "exposition_chunks", None)
        if steps is not None:
            chunks.extend((yield from steps(openmetrics)))
        elif fast is not None:
            chunks.extend(fast(openmetrics))
        else:
            chunks.append(render_families(collector.collect(), openmetrics).encode())
        yield
    if openmetrics:
        chunks.append(b"# EOF\n")
    # the body written a few MB a step (one join of a large body holds the loop while
    # all its pages fault in); BytesIO hands its buffer over without a copy at the end
    body = io.BytesIO()
    written = 0
    for chunk in chunks:
        written += body.write(chunk)
        if written >= WRITE_STEP_BYTES:
            written = 0
            yield
    value = body.getvalue()
    del body, chunks
    return value, content_type


def render(source: Collector | CollectorRegistry, accept_header: str | None) -> tuple[bytes, str]:
    """``(body, content_type)`` for a scrape with this ``Accept`` header, at once.

    OpenMetrics when the scraper asks for ``application/openmetrics-text``, else the
    Prometheus text format, chosen as prometheus_client's ``choose_encoder`` chooses.
    """
    steps = render_steps(source, accept_header)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


STEP_SECONDS = 0.005
"""How long ``render_async`` keeps the event loop before letting it run."""
PAUSE_RATIO = 1.0
"""After a step, ``render_async`` leaves the loop to other work for this many times the
step's length. Yielding only for one turn of the loop let a long scrape take nearly all
of it, and the probes due meanwhile started late (the scheduling lag with and without
this pause is in benchmarks/RESULTS.md). A scrape then takes about twice its CPU time in
wall time, well inside Prometheus's scrape timeout."""


async def render_async(
    source: Collector | CollectorRegistry, accept_header: str | None, step_seconds: float = STEP_SECONDS
) -> tuple[bytes, str]:
    """``render`` on the event loop without holding it: runs the steps of
    ``render_steps`` and lets the loop run whenever about ``step_seconds`` went by.

    The result is the same bytes ``render`` gives for the same state; a scrape is
    not one atomic snapshot across services (each service's series are), since
    results recorded between steps are seen by the steps after.
    """
    steps = render_steps(source, accept_header)
    clock = time.perf_counter
    deadline = clock() + step_seconds
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        if clock() >= deadline:
            # the loop's other work (probes due) runs for at least as long as a step took:
            # a scrape never takes more than about half the loop while it renders
            await asyncio.sleep(step_seconds * PAUSE_RATIO)
            deadline = clock() + step_seconds


def metrics_renderer(registry: CollectorRegistry) -> Callable[[str | None], Awaitable[tuple[bytes, str]]]:
    """The ``async (accept_header) -> (body, content_type)`` function the web adapter
    takes: ``render_async`` over this registry."""

    async def render_for(accept: str | None) -> tuple[bytes, str]:
        return await render_async(registry, accept)

    return render_for
