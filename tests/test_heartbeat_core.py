"""Heartbeat judgement (slamon.core.heartbeat), against times computed by hand, and the
catalogue's rules for heartbeat probes (schema errors at file:line)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from slamon.core.heartbeat import Beat, clean_message, cron_problem, judge, latest_cron_deadline
from slamon.core.results import Reason
from slamon.loader import load_catalogue
from tests.daemon_support import service_doc, write_catalogue


def ts(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


EVERY = dict(every_seconds=3600.0, cron=None, grace_seconds=600.0, timezone="UTC")


def test_every_is_missed_once_interval_and_grace_passed_since_the_last_beat():
    t = ts("2026-07-01T00:00:00")
    last = Beat(at=t, ok=True, message="42 files")
    on_time = judge(**EVERY, watched_since=t - 10, last=last, now=t + 3600 + 599)
    assert on_time is not None and on_time.success and "42 files" in on_time.detail
    missed = judge(**EVERY, watched_since=t - 10, last=last, now=t + 3600 + 600)
    assert missed is not None and not missed.success and missed.reason is Reason.missed
    assert "2026-07-01 01:00:00Z" in missed.detail  # when it was due


def test_every_without_any_beat_counts_from_when_watching_began_and_says_nothing_before():
    start = ts("2026-07-01T00:00:00")
    assert judge(**EVERY, watched_since=start, last=None, now=start + 4199) is None
    missed = judge(**EVERY, watched_since=start, last=None, now=start + 4200)
    assert missed is not None and missed.reason is Reason.missed


def test_a_reported_failure_fails_until_the_next_good_beat():
    t = ts("2026-07-01T00:00:00")
    failed = judge(**EVERY, watched_since=t - 10, last=Beat(t, False, "disk full"), now=t + 60)
    assert failed is not None and not failed.success and failed.reason is Reason.reported
    assert "disk full" in failed.detail
    # a missed beat after a reported failure is a miss (the newer news)
    later = judge(**EVERY, watched_since=t - 10, last=Beat(t, False, "disk full"), now=t + 4200)
    assert later is not None and later.reason is Reason.missed


# 01:30 in Geneva in summer (CEST, UTC+2) is 23:30 UTC the day before
CRON = dict(every_seconds=None, cron="30 1 * * *", grace_seconds=3 * 3600.0, timezone="Europe/Zurich")


def test_cron_occurrences_are_in_the_office_timezone():
    # the run of 1 July 01:30 CEST = 30 June 23:30 UTC; its grace ends 1 July 02:30 UTC
    assert latest_cron_deadline("30 1 * * *", "Europe/Zurich", 3 * 3600, ts("2026-07-01T02:30:00")) == ts("2026-06-30T23:30:00")
    assert latest_cron_deadline("30 1 * * *", "Europe/Zurich", 3 * 3600, ts("2026-07-01T02:29:59")) == ts("2026-06-29T23:30:00")
    # in winter (CET, UTC+1) the same local time is an hour later in UTC
    assert latest_cron_deadline("30 1 * * *", "Europe/Zurich", 0, ts("2026-12-02T00:31:00")) == ts("2026-12-02T00:30:00")


def test_cron_run_is_missed_at_the_end_of_its_grace():
    watched = ts("2026-06-01T00:00:00")
    last = Beat(ts("2026-06-29T23:41:00"), True)  # the previous night's run
    before = judge(**CRON, watched_since=watched, last=last, now=ts("2026-07-01T02:29:59"))
    assert before is not None and before.success
    missed = judge(**CRON, watched_since=watched, last=last, now=ts("2026-07-01T02:30:00"))
    assert missed is not None and missed.reason is Reason.missed
    assert "2026-06-30 23:30:00Z" in missed.detail
    done = judge(**CRON, watched_since=watched, last=Beat(ts("2026-07-01T01:10:00"), True), now=ts("2026-07-01T02:30:00"))
    assert done is not None and done.success


def test_cron_beat_a_little_early_counts_and_runs_before_watching_are_not_judged():
    watched = ts("2026-06-01T00:00:00")
    early = Beat(ts("2026-06-30T21:00:00"), True)  # 2.5 h before 23:30 UTC, inside the 3 h grace
    assert judge(**CRON, watched_since=watched, last=early, now=ts("2026-07-01T03:00:00")).success
    too_early = Beat(ts("2026-06-30T20:00:00"), True)
    assert judge(**CRON, watched_since=watched, last=too_early, now=ts("2026-07-01T03:00:00")).reason is Reason.missed
    # the daemon began watching after the last run: nothing to judge yet
    assert judge(**CRON, watched_since=ts("2026-07-01T00:00:00"), last=None, now=ts("2026-07-01T03:00:00")) is None


def test_cron_problems_and_messages():
    assert cron_problem("30 2 * * *") is None
    assert cron_problem("0 6 * * sun") is None
    assert "5" in cron_problem("30 2 * *")
    assert cron_problem("61 * * * *")
    assert clean_message("ok\n\x00 " + "x" * 300) == "ok " + "x" * 197


def heartbeat(**fields) -> dict:
    return {"id": "nightly", "kind": "heartbeat", "token": "${env:HB_TOKEN}", **fields}


@pytest.mark.parametrize(
    ("probe", "code", "where", "text"),
    [
        (heartbeat(cron="30 2 * *"), "E105", "probes[0].cron", "5"),
        (heartbeat(cron="30 25 * * *"), "E105", "probes[0].cron", "not a valid cron expression"),
        (heartbeat(every="24h", token="hunter2"), "E212", "probes[0].token", "${env:NAME}"),
        (heartbeat(every="24h", cron="0 2 * * *"), "E114", "probes[0]", "exactly one schedule"),
        (heartbeat(), "E114", "probes[0]", "exactly one schedule"),
        (heartbeat(every=86400), "E106", "probes[0].every", "unit"),
        ({"id": "nightly", "kind": "heartbeat", "every": "24h"}, "E101", "probes[0]", "token"),
    ],
)
def test_bad_heartbeat_probes_are_errors_at_their_line(tmp_path: Path, probe, code, where, text):
    root = write_catalogue(tmp_path, [service_doc("unog-jobs", [probe])])
    report = load_catalogue(root)
    errors = [d for d in report.errors if d.code == code]
    assert errors, [str(d) for d in report.diagnostics]
    line = str(errors[0])
    assert "unog-jobs.yaml:" in line and where in line and text in line
    assert "hunter2" not in "\n".join(str(d) for d in report.diagnostics)


def test_a_good_heartbeat_probe_loads(tmp_path: Path):
    root = write_catalogue(tmp_path, [service_doc("unog-jobs", [heartbeat(cron="30 1 * * *", grace="3h")])])
    report = load_catalogue(root)
    assert report.catalogue is not None and not report.errors, [str(d) for d in report.errors]
    probe = report.catalogue.services["unog-jobs"].probes[0]
    assert (probe.kind, probe.cron, probe.grace, probe.interval) == ("heartbeat", "30 1 * * *", 10800.0, 60.0)


# ---------------------------------------------------------------- the daemon's Heartbeats


def _heartbeats(tmp_path: Path, env: dict, clock):
    from slamon.heartbeats import Heartbeats

    root = write_catalogue(tmp_path, [service_doc("unog-jobs", [heartbeat(every="1h", grace="10m", interval="60s")])])
    catalogue = load_catalogue(root).catalogue
    results = []
    hb = Heartbeats(results.append, env, clock=clock)
    hb.update(catalogue, catalogue.probe_tasks())
    return hb, results


def test_an_unset_token_variable_refuses_every_push_and_is_logged_once(tmp_path: Path, caplog):
    from slamon.heartbeats import Verdict

    hb, results = _heartbeats(tmp_path, {}, clock=lambda: 1_800_000_000.0)
    with caplog.at_level("ERROR", logger="slamon.heartbeats"):
        assert hb.receive("unog-jobs", "nightly", "")[0] is Verdict.unauthorized
        assert hb.receive("unog-jobs", "nightly", "anything")[0] is Verdict.unauthorized
    assert [r.message for r in caplog.records].count("heartbeat_token_unset") == 1
    assert hb.rejected_total["unauthorized"] == 2 and not results


def test_heartbeats_record_results_on_their_interval(tmp_path: Path):
    from slamon.heartbeats import Verdict

    now = [1_800_000_000.0]
    hb, results = _heartbeats(tmp_path, {"HB_TOKEN": "s3cret"}, clock=lambda: now[0])
    assert hb.record_due() == 0  # nothing due yet
    verdict, _ = hb.receive("unog-jobs", "nightly", "s3cret", ok=True, message="done")
    assert verdict is Verdict.accepted
    assert len(results) == 1 and results[0].success and results[0].kind == "heartbeat"
    assert results[0].key == ("unog", "unog-jobs", "nightly")
    # the next interval has not come round on the loop's clock: no new result
    assert hb.record_due() == 0 and len(results) == 1
    # 1 h 10 min later (the interval forced due): missed
    now[0] += 4200
    for watch in hb._watches.values():
        watch.next_due = 0.0
    assert hb.record_due() == 1
    assert results[-1].outcome.reason == "missed"


async def test_a_stopping_daemon_refuses_heartbeats_so_the_job_tries_again(tmp_path: Path):
    from slamon.heartbeats import Verdict

    hb, results = _heartbeats(tmp_path, {"HB_TOKEN": "s3cret"}, clock=lambda: 1_800_000_000.0)
    hb.start()
    await hb.close()
    assert hb.receive("unog-jobs", "nightly", "s3cret")[0] is Verdict.unavailable
    assert not results and hb.rejected_total["unavailable"] == 1
