"""The demo's indicator baselines: each biennium's baseline is the previous biennium's
actual, as the demo store's history gives it (docs/demo.md).

The bundled ``indicators.yaml`` carries baselines and targets for bienniums the demo
history does not hold; the demo catalogue's copy is rewritten so that, for every
biennium whose previous biennium the store has on record, the baseline of each office
is that biennium's actual, computed by the same code as the
reports (``slamon.assess.assess_indicators``). A target below its new baseline is
raised to it (all three indicators should rise). Percentages are written to one
decimal, as reports show them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from slamon.assess import assess_indicators
from slamon.core.catalogue import Catalogue
from slamon.core.indicators import ALL_OFFICES
from slamon.core.model import BaselineTarget, IndicatorsFile
from slamon.core.sla.periods import biennium
from slamon.store import Store

HEADER = (
    "# yaml-language-server: $schema=schema/indicators.schema.json\n"
    "# Demo copy written by `slamon demo`: each biennium's baselines are the actuals of the\n"
    "# biennium before it in the demo history. Edits are overwritten at the next start.\n"
)


def previous_label(label: str) -> str:
    first = int(label[:4]) - 2
    return f"{first:04d}-{first + 1:04d}"


def rebased_indicators(store: Store, catalogue: Catalogue, now: dt.datetime) -> IndicatorsFile:
    """``catalogue.indicators`` with the baselines of each biennium whose previous
    biennium is on record in ``store`` (catalogue revisions at its end) set to that
    biennium's actuals, office by office."""
    indicators = catalogue.indicators
    blocks = []
    for block in indicators.targets:
        before = previous_label(block.biennium)
        end = biennium(int(before[:4]), "UTC").end
        if end > now or not store.services_at(end - dt.timedelta(microseconds=1)):
            blocks.append(block)
            continue
        actuals = {
            (v.office, v.indicator): v.value
            for v in assess_indicators(store, before, now, catalogue=catalogue)
            if v.value is not None
        }
        units = {d.id: d.unit for d in indicators.indicators}
        offices = {o: dict(per) for o, per in block.offices.items()}
        for (office, indicator), actual in sorted(actuals.items()):
            if office == ALL_OFFICES:
                continue  # the file is per office; a count total is the sum of the offices'
            baseline = round(actual, 1) if units.get(indicator) == "percent" else float(round(actual))
            current = offices.setdefault(office, {}).get(indicator)
            target = max(current.target, baseline) if current is not None else baseline
            offices[office][indicator] = BaselineTarget(baseline=baseline, target=target)
        blocks.append(block.model_copy(update={"offices": offices}))
    return indicators.model_copy(update={"targets": blocks})


def write_indicators(path: Path, indicators: IndicatorsFile) -> None:
    data = indicators.model_dump(mode="json", exclude_none=True)
    path.write_text(HEADER + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8")


def rebase_demo_catalogue(store: Store, catalogue: Catalogue, catalogue_dir: Path, now: dt.datetime) -> IndicatorsFile:
    """Rewrite ``catalogue_dir/indicators.yaml`` with the rebased baselines; returns them."""
    rebased = rebased_indicators(store, catalogue, now)
    write_indicators(catalogue_dir / "indicators.yaml", rebased)
    return rebased
