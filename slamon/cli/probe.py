"""``slamon probe SERVICE_ID``: run a service's probes once, now, and show the results.

For an office ICT unit checking a new or changed service file, and for operations
asking "is it the service or the monitoring?". Each enabled probe runs once from each
of its vantage offices (``--office`` runs them all as that one office instead: the
machine you run this on is the vantage point). Exit status: 0 when every probe
succeeded, 1 when one failed or the catalogue is invalid, 2 for an unknown service.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import sys
import time
from dataclasses import asdict

from slamon.cli.common import add_catalogue_option, add_format_option, add_office_option
from slamon.config import Config
from slamon.core.catalogue import ProbeTask
from slamon.core.results import PHASES, ProbeResult
from slamon.loader import load_catalogue

MAX_PARALLEL = 8  # a handful of probes at once; this is a check, not a load test


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "probe",
        help="run one service's probes once and print the results",
        description="Run one service's probes once, now, and print each result with its timings.",
    )
    p.add_argument("service_id", metavar="SERVICE_ID", help="e.g. unog-email")
    add_catalogue_option(p)
    add_office_option(p, "label the results with this vantage office instead of each probe's own",
                      metavar="VANTAGE")
    add_format_option(p)
    p.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    report = load_catalogue(args.catalogue)
    if report.catalogue is None:
        for diag in report.diagnostics:
            print(diag, file=sys.stderr)
        print(f"{args.catalogue}: the catalogue is invalid; fix it first (slamon check)", file=sys.stderr)
        return 1
    catalogue = report.catalogue
    service = catalogue.services.get(args.service_id)
    if service is None:
        close = difflib.get_close_matches(args.service_id, list(catalogue.services), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        print(f"unknown service {args.service_id!r} in {args.catalogue}{hint}", file=sys.stderr)
        return 2
    if args.office is not None and args.office not in catalogue.offices:
        known = ", ".join(sorted(catalogue.offices))
        print(f"unknown office {args.office!r} (offices: {known})", file=sys.stderr)
        return 2
    tasks: list[ProbeTask] = []
    # a heartbeat is pushed to the daemon by its job: there is nothing to run here
    skipped = [
        f"{p.id} ({'disabled' if not p.enabled else 'a heartbeat: its job calls the daemon'})"
        for p in service.probes
        if not p.enabled or p.kind == "heartbeat"
    ]
    for probe in service.probes:
        if probe.enabled and probe.kind != "heartbeat":
            vantages = [args.office] if args.office else service.vantages(probe)
            tasks.extend(ProbeTask(service, probe, v) for v in vantages)
    results = asyncio.run(_run_all(tasks, Config().max_body_bytes))
    if args.format == "json":
        print(json.dumps([_as_json(r) for r in results], indent=2))
    else:
        _print_text(service.id, results, skipped)
    return 0 if all(r.success for r in results) else 1


async def _run_all(tasks: list[ProbeTask], max_body_bytes: int) -> list[ProbeResult]:
    # imported here: the probes (aiohttp, TLS) cost every other command a second to import
    from slamon.probes import ProbeContext, run_probe

    ctx = ProbeContext.create(max_body_bytes=max_body_bytes, env=os.environ)
    slots = asyncio.Semaphore(MAX_PARALLEL)

    async def one(task: ProbeTask) -> ProbeResult:
        async with slots:
            started_at = time.time()
            outcome = await run_probe(task.probe, ctx)
        return ProbeResult(
            vantage=task.vantage,
            service_id=task.service.id,
            probe_id=task.probe.id,
            kind=task.probe.kind,
            started_at=started_at,
            outcome=outcome,
        )

    try:
        async with asyncio.TaskGroup() as group:
            running = [group.create_task(one(t)) for t in tasks]
        return [t.result() for t in running]
    finally:
        await ctx.close()


def _as_json(r: ProbeResult) -> dict:
    out = asdict(r.outcome)
    out["steps"] = [asdict(s) for s in r.outcome.steps]
    return {
        "vantage": r.vantage,
        "service": r.service_id,
        "probe": r.probe_id,
        "kind": r.kind,
        "started_at": r.started_at,
        **out,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _print_text(service_id: str, results: list[ProbeResult], skipped: list[str]) -> None:
    if not results:
        print(f"{service_id}: no enabled probes")
    for r in results:
        o = r.outcome
        verdict = "ok  " if o.success else "FAIL"
        line = f"{verdict} {r.probe_id} ({r.kind}) from {r.vantage}: {_ms(o.duration_seconds)}"
        if o.status_code is not None:
            line += f", status {o.status_code}"
        if not o.success:
            line += f", {o.reason}: {o.detail}"
        elif o.warning is not None:
            line += f", warning {o.warning}: {o.warning_detail}"
        print(line)
        phases = [f"{p} {_ms(o.phases[p])}" for p in PHASES if p in o.phases]
        if o.dns_lookup_seconds is not None:
            phases.append(f"lookup {_ms(o.dns_lookup_seconds)}")
        if phases:
            print("     " + ", ".join(phases))
        if o.cert_expiry_timestamp is not None:
            days = (o.cert_expiry_timestamp - time.time()) / 86400
            expiry = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(o.cert_expiry_timestamp))
            print(f"     certificate expires {expiry} ({days:.0f} days)")
        if o.packets_sent:
            rtt = f", round trip {_ms(o.rtt_seconds)}" if o.rtt_seconds is not None else ""
            print(f"     {o.packets_received} of {o.packets_sent} echo replies{rtt}")
        for s in o.steps:
            mark = "ok  " if s.success else "FAIL"
            status = f", status {s.status_code}" if s.status_code is not None else ""
            why = f", {s.reason}: {s.detail}" if not s.success else ""
            print(f"     {mark} step {s.name}: {_ms(s.duration_seconds)}{status}{why}")
    for probe_id in skipped:
        print(f"skip {probe_id}")
    failed = sum(not r.success for r in results)
    print(f"{len(results) - failed} of {len(results)} succeeded")
