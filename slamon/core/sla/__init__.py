"""SLA maths, pure: periods, service hours, maintenance, eligibility, measures.

Where things live:

- ``periods``      period labels -> ``PeriodWindow`` [start, end) in UTC, cut in the office timezone
- ``localtime``    the wall-clock rule across DST: local windows -> minutes of a UTC day
- ``calendar``     ``OfficeCalendar``: weekly service hours minus holidays (and ``24x7``)
- ``maintenance``  ``MaintenanceSchedule``: recurring and one-off planned windows
- ``exclusions``   ``Exclusion``: recorded UTC intervals with reason and approver
- ``masks``        ``MaskCache``, ``Scope``, ``is_eligible``: eligible-minute bitmaps per UTC day
- ``context``      ``ServiceContext``, ``TargetSegment``: what a service's measure needs
- ``measure``      ``measure_service`` -> ``Measures`` (objectives, error budget, burn rate)
- ``vantages``     ``combine_vantages``: a service meets its level only from every vantage
- ``bulk``         ``measure_many``: many services sharing cached masks
- ``breaches``     ``evaluate_breaches``: the breach state machine
- ``rollup``       ``DayRollup``: the seam with the store (one UTC day, minute bitmaps)

docs/sla.md explains the definitions in plain words.
"""
