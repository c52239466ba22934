"""The catalogue contract as plain pydantic models.

These models describe one YAML document each (offices, tiers, practices, indicators,
service). They check what a single document can check about itself: types, enums,
formats, cross-field rules inside one object. Rules that need the whole catalogue
(tier exists, office agrees with folder, duplicate ids, dependency cycles, SLA not
looser than its tier) live in the loader's rules.

They are not SQLModel table models: table models skip validation. The store maps
them to tables separately.

Field names here are the public catalogue contract (see DESIGN.md); do not rename.

Why one module above 500 lines: it is one thing, the catalogue contract; the models
share the validators and enums at the top, and one file shows the whole contract.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import SplitResult, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from slamon.core.durations import DURATION_PATTERN, DurationError, parse_duration

API_VERSION = "slamon/v1"

# --------------------------------------------------------------------------- scalars

OFFICE_ID_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")
SERVICE_ID_RE = re.compile(r"^[a-z][a-z0-9]{1,15}-[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
ENV_REF_RE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
VAR_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CLAUSE_RE = re.compile(r"^\d+(?:\.\d+){0,3}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_SERVICE_ID_LEN = 63


STORED_CONTEXT = {"stored": True}
"""Validation context for models read back from the store (``Service.model_validate(data,
context=STORED_CONTEXT)``): durations there are the seconds ``model_dump`` wrote, not
catalogue text, so bare numbers are accepted."""


_parse_duration_text = functools.lru_cache(maxsize=512)(parse_duration)
"""``parse_duration`` remembered: a catalogue writes the same few durations (60s, 10s) over and
over. Errors are not remembered (``lru_cache`` keeps only results)."""


def _duration(value: Any, info: ValidationInfo) -> float:
    if info.context and info.context.get("stored") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise PydanticCustomError(
            "duration_unit",
            "a duration needs a unit, e.g. 30s, 5m, 2h (found the bare number {value})",
            {"value": value},
        )
    try:
        return _parse_duration_text(value) if type(value) is str else parse_duration(value)
    except DurationError as exc:
        raise PydanticCustomError("duration_format", str(exc)) from None


def _positive(value: float) -> float:
    if value <= 0:
        raise PydanticCustomError("duration_positive", "a duration must be greater than zero")
    return value


Duration = Annotated[
    float,
    BeforeValidator(_duration),
    AfterValidator(_positive),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m"]}),
]
"""Seconds, written in YAML as ``30s``, ``5m``, ``2h``, ``1d``, ``800ms``."""


def _time_of_day(value: Any) -> str:
    if isinstance(value, bool):
        raise PydanticCustomError("time_format", "a time of day is written HH:MM, quoted")
    if isinstance(value, int):
        # YAML 1.1 reads unquoted 18:30 as the sexagesimal number 1110.
        hours, minutes = divmod(value, 60)
        raise PydanticCustomError(
            "time_unquoted",
            'unquoted time read as the number {value}; write it quoted: "{quoted}"',
            {"value": value, "quoted": f"{hours:02d}:{minutes:02d}"},
        )
    if not isinstance(value, str) or not TIME_RE.match(value):
        raise PydanticCustomError(
            "time_format", "a time of day is written HH:MM between 00:00 and 24:00"
        )
    return value


TimeOfDay = Annotated[
    str,
    BeforeValidator(_time_of_day),
    WithJsonSchema({"type": "string", "pattern": TIME_RE.pattern}),
]
"""``"HH:MM"`` in the office's local time; ``"24:00"`` allowed as an end."""


def time_to_minutes(value: str) -> int:
    """``"08:30"`` -> 510; ``"24:00"`` -> 1440."""
    h, m = value.split(":")
    return int(h) * 60 + int(m)


_ZONES: frozenset[str] | None = None


def _timezone(value: Any) -> str:
    global _ZONES
    if not isinstance(value, str):
        raise PydanticCustomError("timezone", "a timezone is an IANA name such as Europe/Zurich")
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if value not in _ZONES:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "timezone_unknown",
                "unknown IANA timezone '{value}' (e.g. Europe/Zurich, America/New_York)",
                {"value": value},
            ) from None
    return value


Timezone = Annotated[str, BeforeValidator(_timezone), WithJsonSchema({"type": "string"})]


def _pattern(regex: re.Pattern[str], what: str, example: str):
    def check(value: str) -> str:
        if not regex.match(value):
            raise PydanticCustomError(
                f"{what}_format",
                "{what} must look like {example}",
                {"what": what.replace("_", " "), "example": example},
            )
        return value

    return AfterValidator(check)


OfficeId = Annotated[
    str,
    _pattern(OFFICE_ID_RE, "office_id", "unog (lowercase letters and digits)"),
    WithJsonSchema({"type": "string", "pattern": OFFICE_ID_RE.pattern}),
]


def _service_id(value: str) -> str:
    if len(value) > MAX_SERVICE_ID_LEN:
        raise PydanticCustomError(
            "service_id_length",
            "a service id has at most {limit} characters (found {n})",
            {"limit": MAX_SERVICE_ID_LEN, "n": len(value)},
        )
    if not SERVICE_ID_RE.match(value):
        raise PydanticCustomError(
            "service_id_format",
            "a service id is <office>-<slug> in lowercase letters, digits and hyphens, e.g. unog-email",
        )
    return value


ServiceId = Annotated[
    str,
    AfterValidator(_service_id),
    WithJsonSchema(
        {"type": "string", "pattern": SERVICE_ID_RE.pattern, "maxLength": MAX_SERVICE_ID_LEN}
    ),
]
Slug = Annotated[
    str,
    _pattern(SLUG_RE, "identifier", "weekly-patching (lowercase letters, digits, - or _)"),
    WithJsonSchema({"type": "string", "pattern": SLUG_RE.pattern}),
]
Clause = Annotated[
    str,
    _pattern(CLAUSE_RE, "clause", '"8.3.3" (an ISO/IEC 20000-1 clause number, quoted)'),
    WithJsonSchema({"type": "string", "pattern": CLAUSE_RE.pattern}),
]
Email = Annotated[
    str,
    _pattern(EMAIL_RE, "email", "team@office.example"),
    WithJsonSchema({"type": "string", "format": "email"}),
]


@functools.lru_cache(maxsize=1024)
def _split_cached(value: str) -> SplitResult:
    return urlsplit(value)


def split_url(value: str) -> SplitResult:
    """``urlsplit``, remembered for recent short URLs: the loader's secret check and the
    model's URL check split the same URL one after the other."""
    return _split_cached(value) if len(value) <= 2048 else urlsplit(value)


_SPACE_RE = re.compile(r"\s")  # the same characters as str.isspace()


_PLAIN_URL_RE = re.compile(r"https?://[A-Za-z0-9.-]+(?::([0-9]{1,5}))?(?:[/?#]\S*)?")
"""A URL that ``_url`` accepts without splitting it: http(s), a plain host name or IPv4
address, a port, then no whitespace. Anything else takes the full check."""


def _url(value: str) -> str:
    if "${" in value and (ENV_REF_RE.search(value) or VAR_REF_RE.search(value)):
        return value  # resolved at probe time; checked again then
    plain = _PLAIN_URL_RE.fullmatch(value)
    if plain is not None and (plain.group(1) is None or int(plain.group(1)) <= 65535):
        return value  # what the checks below accept, found without building a SplitResult
    return _url_checked(value)


def _url_checked(value: str) -> str:
    try:
        parts = split_url(value)
        _ = parts.port  # raises on a bad port
    except ValueError as exc:
        raise PydanticCustomError("url", "not a valid URL: {reason}", {"reason": str(exc)}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError(
            "url", "a URL must start with http:// or https:// and name a host"
        )
    if _SPACE_RE.search(value):
        raise PydanticCustomError("url", "a URL may not contain spaces")
    return value


Url = Annotated[
    str,
    AfterValidator(_url),
    WithJsonSchema({"type": "string", "pattern": "^https?://"}),
]


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "not a valid regular expression: {reason}", {"reason": str(exc)}
        ) from None
    return value


Regex = Annotated[str, AfterValidator(_regex), WithJsonSchema({"type": "string"})]

Percent = Annotated[float, Field(gt=0, le=100)]


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"

    @property
    def index(self) -> int:
        """Monday is 0, as in ``datetime.weekday()``."""
        return list(Weekday).index(self)


class Period(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"
    biennium = "biennium"
    rolling_30d = "rolling 30d"


class Budgeting(StrEnum):
    timeslices = "timeslices"
    occurrences = "occurrences"


class Lifecycle(StrEnum):
    pipeline = "pipeline"
    production = "production"
    deprecated = "deprecated"
    retired = "retired"


class Fulfilment(StrEnum):
    automated = "automated"
    partial = "partial"
    manual = "manual"


class Category(StrEnum):
    """The standardized service categories of the global catalogue."""

    communication_and_collaboration = "communication-and-collaboration"
    enterprise_applications = "enterprise-applications"
    finance = "finance"
    identity_and_access = "identity-and-access"
    end_user_services = "end-user-services"
    conference_services = "conference-services"
    information_management = "information-management"
    web_and_publishing = "web-and-publishing"
    infrastructure = "infrastructure"
    hosting = "hosting"
    security = "security"
    service_management = "service-management"


class ContactRole(StrEnum):
    service_owner = "service-owner"
    business_owner = "business-owner"
    technical = "technical"
    escalation = "escalation"
    service_desk = "service-desk"


# An empty list or mapping as a field default. pydantic deep-copies a default it cannot hash
# for every instance that leaves the field out (five per typical service: a tenth of the
# validation time); a factory makes the new empty value directly. The schema still shows
# the default.
def _empty_list() -> Any:
    return Field(default_factory=list, json_schema_extra={"default": []})


def _empty_dict() -> Any:
    return Field(default_factory=dict, json_schema_extra={"default": {}})


_SHARED_FIELDS_SETS: dict[frozenset[str], set[str]] = {}
_MAX_SHARED_FIELDS_SETS = 4096


class Strict(BaseModel):
    """Base: unknown fields are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def model_post_init(self, context: Any, /) -> None:
        """Share the set of given field names among instances that were given the same
        fields. pydantic keeps one such set per instance (about half the memory of a
        loaded service: 2.5 KB of its 5 KB); instances are frozen, so nothing adds to
        it in place (``model_copy`` copies it first)."""
        given = self.__pydantic_fields_set__
        key = frozenset(given)
        shared = _SHARED_FIELDS_SETS.get(key)
        if shared is not None:
            object.__setattr__(self, "__pydantic_fields_set__", shared)
        elif len(_SHARED_FIELDS_SETS) < _MAX_SHARED_FIELDS_SETS:
            _SHARED_FIELDS_SETS[key] = given


# --------------------------------------------------------------------------- offices.yaml


class ServiceHours(Strict):
    """A weekly window: these days, from start to end (local time; end may be 24:00)."""

    days: list[Weekday] = Field(min_length=1)
    start: TimeOfDay
    end: TimeOfDay

    @model_validator(mode="after")
    def _order(self) -> ServiceHours:
        if time_to_minutes(self.end) <= time_to_minutes(self.start):
            raise PydanticCustomError(
                "hours_order",
                "service hours end ({end}) must be after start ({start}); split a window that crosses midnight in two",
                {"end": self.end, "start": self.start},
            )
        return self


class Holiday(Strict):
    date: dt.date
    name: str = Field(min_length=1)


class Calendar(Strict):
    """Service hours of an office: weekly windows minus public holidays."""

    description: str = ""
    hours: list[ServiceHours] = Field(min_length=1)
    holidays: list[Holiday] = _empty_list()


BUILTIN_CALENDAR = "24x7"


class Office(Strict):
    id: OfficeId
    name: str = Field(min_length=1)
    city: str = Field(min_length=1)
    timezone: Timezone
    headquarters: bool = False
    calendars: dict[Slug, Calendar] = _empty_dict()


class OfficesFile(Strict):
    apiVersion: Literal["slamon/v1"]
    kind: Literal["Offices"]
    offices: list[Office] = Field(min_length=1)


# --------------------------------------------------------------------------- tiers.yaml


class LatencyObjective(Strict):
    """``percent`` of probe results must complete within ``threshold``."""

    threshold: Duration
    percent: Percent


class StepsObjective(Strict):
    """``percent`` of journey steps must complete within ``max_duration`` each
    (the ERP objective: each transaction step within 10 seconds)."""

    max_duration: Duration
    percent: Percent = 100.0


class Tier(Strict):
    id: Slug
    name: str = Field(min_length=1)
    description: str = ""
    benchmark: str = Field(min_length=1, description="the named industry benchmark the targets come from")
    availability: Percent
    latency: LatencyObjective | None = None
    period: Period = Period.month
    schedule: str = BUILTIN_CALENDAR
    budgeting: Budgeting = Budgeting.timeslices
    incident_response: Duration | None = None
    incident_resolution: Duration | None = None


class TiersFile(Strict):
    apiVersion: Literal["slamon/v1"]
    kind: Literal["Tiers"]
    tiers: list[Tier] = Field(min_length=1)


# --------------------------------------------------------------------------- practices.yaml


class PracticeClause(Strict):
    clause: Clause
    title: str = Field(min_length=1)
    itil_practice: str = ""
    required: bool = True


class PracticesFile(Strict):
    apiVersion: Literal["slamon/v1"]
    kind: Literal["Practices"]
    standard: str = "ISO/IEC 20000-1:2018"
    review_max_age_days: int = Field(default=365, gt=0)
    clauses: list[PracticeClause] = Field(min_length=1)

    @property
    def required_clauses(self) -> frozenset[str]:
        return frozenset(c.clause for c in self.clauses if c.required)


# --------------------------------------------------------------------------- indicators.yaml


class IndicatorId(StrEnum):
    automated_services = "automated-services"  # (a)(i)
    services_meeting_levels = "services-meeting-levels"  # (a)(ii)
    iso_aligned_services = "iso-aligned-services"  # (b)


class IndicatorDefinition(Strict):
    id: IndicatorId
    code: str = Field(min_length=1, description="programme reference, e.g. (a)(i)")
    title: str = Field(min_length=1)
    unit: Literal["count", "percent"]
    direction: Literal["increase", "decrease"] = "increase"
    method: Literal["per-sla-period", "whole-period"] | None = Field(
        default=None,
        description="services-meeting-levels only: per-sla-period (default: each service judged in each of "
        "its own SLA periods) or whole-period (each service judged once over the report period)",
    )


class BaselineTarget(Strict):
    baseline: float = Field(ge=0)
    target: float = Field(ge=0)


BIENNIUM_RE = re.compile(r"^(\d{4})-(\d{4})$")


def _biennium(value: str) -> str:
    m = BIENNIUM_RE.match(value)
    if not m or int(m.group(2)) != int(m.group(1)) + 1 or int(m.group(1)) % 2:
        raise PydanticCustomError(
            "biennium",
            "a biennium is two calendar years starting in an even year, e.g. 2012-2013",
        )
    return value


Biennium = Annotated[
    str, AfterValidator(_biennium), WithJsonSchema({"type": "string", "pattern": BIENNIUM_RE.pattern})
]


class BienniumTargets(Strict):
    biennium: Biennium
    offices: dict[OfficeId, dict[IndicatorId, BaselineTarget]]


class IndicatorsFile(Strict):
    apiVersion: Literal["slamon/v1"]
    kind: Literal["Indicators"]
    indicators: list[IndicatorDefinition] = Field(min_length=1)
    targets: list[BienniumTargets] = _empty_list()


# --------------------------------------------------------------------------- service files


class Contact(Strict):
    role: ContactRole
    name: str = Field(min_length=1)
    email: Email
    phone: str | None = None


class Owner(Strict):
    group: Slug
    contacts: list[Contact] = Field(min_length=1)


class SLA(Strict):
    """Service-level objectives; each field left out is taken from the tier.

    May tighten the tier, never loosen it (checked by the loader)."""

    availability: Percent | None = None
    latency: LatencyObjective | None = None
    steps: StepsObjective | None = None
    unplanned_outages: int | None = Field(
        default=None, ge=0, description="unplanned outage slices allowed per period; 0 = none"
    )
    schedule: str | None = None
    period: Period | None = None
    budgeting: Budgeting | None = None
    effective: dt.date | None = Field(
        default=None, description="date from which these targets apply; earlier history keeps the earlier ones"
    )


class RecurringMaintenance(Strict):
    name: str = Field(min_length=1)
    every: Literal["day", "week", "month"]
    days: list[Weekday] | None = None
    day_of_month: int | None = Field(default=None, ge=1, le=31)
    start: TimeOfDay
    duration: Duration

    @model_validator(mode="after")
    def _shape(self) -> RecurringMaintenance:
        if self.every == "week" and not self.days:
            raise PydanticCustomError("maintenance_days", "weekly maintenance needs days: [sun, ...]")
        if self.every == "month" and self.day_of_month is None:
            raise PydanticCustomError("maintenance_day_of_month", "monthly maintenance needs day_of_month")
        if self.duration > 7 * 86400:
            raise PydanticCustomError("maintenance_duration", "a recurring maintenance window lasts at most 7d")
        return self


class OneOffMaintenance(Strict):
    name: str = Field(min_length=1)
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime

    @model_validator(mode="after")
    def _order(self) -> OneOffMaintenance:
        if self.to <= self.from_:
            raise PydanticCustomError("maintenance_order", "maintenance 'to' must be after 'from'")
        return self


def _maintenance_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "once" if "from" in value or "to" in value else "recurring"
    return "once" if isinstance(value, OneOffMaintenance) else "recurring"


Maintenance = Annotated[
    Annotated[RecurringMaintenance, Tag("recurring")] | Annotated[OneOffMaintenance, Tag("once")],
    Discriminator(_maintenance_kind),
]


class Automation(Strict):
    fulfilment: Fulfilment
    evidence: Url | None = None
    description: str = ""


class PracticeEvidence(Strict):
    clause: Clause
    evidence: Url | None = None
    reviewed: dt.date | None = None


class HttpExpect(Strict):
    status: list[Annotated[int, Field(ge=100, le=599)]] | None = None  # default: 200-399
    body: Regex | None = None  # must match
    body_not: Regex | None = None  # must not match
    headers: dict[str, Regex] = _empty_dict()


HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _ip_version(value: Any) -> Any:
    # ``ip_version: 4`` is read by YAML as a number; accept it as the text "4"
    return str(value) if value in (4, 6) and not isinstance(value, bool) else value


IpVersion = Annotated[
    Literal["any", "4", "6"],
    BeforeValidator(_ip_version),
    WithJsonSchema({"enum": ["any", "4", "6", 4, 6], "default": "any"}),
]
"""IP version preference: ``any``, ``4`` or ``6`` (written with or without quotes)."""


def _proxy(value: str) -> str:
    if value == PROXY_FROM_ENVIRONMENT or ENV_REF_RE.fullmatch(value):
        return value  # the whole URL from the environment is checked at probe time
    scheme, sep, _ = value.partition("://")
    if not sep or scheme.lower() != "http":
        what = f"a {scheme}:// proxy is not supported" if sep else "not a proxy URL"
        raise PydanticCustomError(
            "proxy",
            "{what}; write http://host:port (the proxy is spoken to in plain HTTP; https targets "
            "go through it in a CONNECT tunnel), or 'environment' for the daemon's http_proxy, "
            "https_proxy and no_proxy variables",
            {"what": what},
        )
    if "${" in value and ENV_REF_RE.search(value):
        return value  # a password or host resolved at probe time, and checked then
    try:
        parts = split_url(value)
        _ = parts.port  # raises on a bad port
    except ValueError as exc:
        raise PydanticCustomError("proxy", "not a valid proxy URL: {reason}", {"reason": str(exc)}) from None
    if not parts.hostname:
        raise PydanticCustomError("proxy", "a proxy URL names a host: http://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise PydanticCustomError("proxy", "a proxy URL has no path, query or fragment: http://host:port")
    if _SPACE_RE.search(value):
        raise PydanticCustomError("proxy", "a proxy URL may not contain spaces")
    return value


PROXY_FROM_ENVIRONMENT = "environment"
ProxyUrl = Annotated[
    str,
    AfterValidator(_proxy),
    WithJsonSchema({"type": "string", "pattern": "^(http://|environment$|\\$\\{env:)"}),
]
"""``http://[user:${env:NAME}@]host:port``, or ``environment`` (http_proxy, https_proxy,
no_proxy of the daemon's environment). Never taken from the environment otherwise."""


class BasicAuth(Strict):
    """HTTP basic authentication (RFC 7617), sent as ``Authorization: Basic ...``."""

    username: str = Field(min_length=1)
    password: str = Field(description="write ${env:NAME}; never the password itself")

    @model_validator(mode="after")
    def _no_colon(self) -> BasicAuth:
        if ":" in self.username:
            raise PydanticCustomError(
                "basic_auth_username", "a basic-auth username cannot contain ':' (RFC 7617)"
            )
        return self


def _client_cert_pair(probe: Any) -> None:
    """A client key or its password needs the certificate it belongs to."""
    if probe.client_cert is None and (probe.client_key is not None or probe.client_key_password is not None):
        field = "client_key" if probe.client_key is not None else "client_key_password"
        raise PydanticCustomError(
            "client_key_without_cert",
            "{field} is set without client_cert; give the client certificate (PEM) in "
            "client_cert, and its private key in client_key unless the same file holds both",
            {"field": field},
        )


class ProbeBase(Strict):
    id: Slug
    interval: Duration = 60.0
    timeout: Duration = 10.0
    from_: list[OfficeId] | None = Field(
        default=None, alias="from", description="vantage offices; default: the service's own office"
    )
    enabled: bool = True
    failure_threshold: int = Field(default=2, ge=1, le=100)
    success_threshold: int = Field(default=1, ge=1, le=100)
    warn_latency: Duration | None = Field(
        default=None, description="a success slower than this carries the warning 'slow' (never a failure)"
    )

    @model_validator(mode="after")
    def _warn_latency_below_timeout(self) -> ProbeBase:
        if self.warn_latency is not None and self.warn_latency >= self.timeout:
            raise PydanticCustomError(
                "warn_latency_timeout",
                "warn_latency ({warn}s) must be below timeout ({timeout}s)",
                {"warn": self.warn_latency, "timeout": self.timeout},
            )
        return self

    @model_validator(mode="after")
    def _timeout_below_interval(self) -> ProbeBase:
        if self.timeout >= self.interval:
            raise PydanticCustomError(
                "timeout_interval",
                "timeout ({timeout}s) must be below interval ({interval}s)",
                {"timeout": self.timeout, "interval": self.interval},
            )
        return self


class HttpProbe(ProbeBase):
    kind: Literal["http"]
    url: Url
    method: HttpMethod = "GET"
    headers: dict[str, str] = _empty_dict()
    body: str | None = None
    expect: HttpExpect = HttpExpect()
    tls_verify: bool = True
    min_days_left: int | None = Field(
        default=None, ge=0, description="https: a certificate with fewer days left gives the warning cert_expiry_soon"
    )
    ca_file: str | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=50)
    ip_version: IpVersion = "any"
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    proxy: ProxyUrl | None = None
    basic_auth: BasicAuth | None = None
    client_cert: str | None = Field(default=None, min_length=1, description="PEM file: client certificate for mutual TLS")
    client_key: str | None = Field(default=None, min_length=1, description="PEM file: its private key (default: in client_cert)")
    client_key_password: str | None = Field(default=None, description="${env:NAME} of the key's password")

    @model_validator(mode="after")
    def _options(self) -> HttpProbe:
        _client_cert_pair(self)
        if self.basic_auth is not None:
            try:
                userinfo = "@" in split_url(self.url).netloc
            except ValueError:
                userinfo = False
            if userinfo:
                raise PydanticCustomError(
                    "basic_auth_twice",
                    "basic_auth and credentials in the URL (user:password@) both set; keep one",
                )
            if any(name.lower() == "authorization" for name in self.headers):
                raise PydanticCustomError(
                    "basic_auth_twice", "basic_auth and an Authorization header both set; keep one"
                )
        return self


def _byte_regex(value: str) -> str:
    try:
        re.compile(value.encode("utf-8"))
    except re.error as exc:
        raise PydanticCustomError(
            "regex", "not a valid regular expression: {reason}", {"reason": str(exc)}
        ) from None
    return value


ByteRegex = Annotated[str, AfterValidator(_byte_regex), WithJsonSchema({"type": "string"})]
"""A regex matched against received bytes (a dialogue step's ``expect``): text in it
matches its UTF-8 encoding, ``\\xNN`` one byte."""


def _hex_bytes(value: str) -> str:
    try:
        bytes.fromhex(value)
    except ValueError:
        raise PydanticCustomError(
            "hex", "send_hex is bytes written as hex digits, two per byte, spaces allowed: '30 1d 02 01 01'"
        ) from None
    if not value.strip():
        raise PydanticCustomError("hex", "send_hex is empty")
    return value


HexBytes = Annotated[
    str, AfterValidator(_hex_bytes), WithJsonSchema({"type": "string", "pattern": "^[0-9A-Fa-f\\s]+$"})
]


class StartTls(Strict):
    """A dialogue's upgrade to TLS on the open connection (SMTP STARTTLS, IMAP STARTTLS,
    POP3 STLS, LDAP StartTLS), verified like the ``tls`` probe's handshake."""

    verify: bool = True
    server_name: str | None = Field(default=None, min_length=1, description="SNI and verified name; default: host")
    ca_file: str | None = None
    client_cert: str | None = Field(default=None, min_length=1, description="PEM file: client certificate for mutual TLS")
    client_key: str | None = Field(default=None, min_length=1, description="PEM file: its private key (default: in client_cert)")
    client_key_password: str | None = Field(default=None, description="${env:NAME} of the key's password")

    @model_validator(mode="after")
    def _client_options(self) -> StartTls:
        _client_cert_pair(self)
        return self


class DialogueStep(Strict):
    """One step of a ``tcp`` probe's dialogue: send, then expect; or upgrade to TLS."""

    name: str = Field(min_length=1)
    send: str | None = Field(default=None, min_length=1, description="text sent as UTF-8; ${env:NAME} allowed")
    send_hex: HexBytes | None = Field(default=None, description="bytes sent, as hex (binary protocols: LDAP)")
    expect: ByteRegex | None = Field(default=None, description="regex searched in the bytes received since the last match")
    fail_on: ByteRegex | None = Field(
        default=None, description="regex that ends the step as failed when seen before expect (an error reply, the end of an answer)"
    )
    timeout: Duration | None = Field(default=None, description="time limit of this step (step_timeout)")
    starttls: StartTls | None = Field(default=None, description="upgrade the connection to TLS here")

    @model_validator(mode="after")
    def _shape(self) -> DialogueStep:
        if self.send is not None and self.send_hex is not None:
            raise PydanticCustomError("dialogue_step", "a step sends either send or send_hex, not both")
        if self.fail_on is not None and self.expect is None:
            raise PydanticCustomError("dialogue_step", "fail_on applies while waiting for expect; give expect too")
        if self.starttls is not None and (self.send or self.send_hex or self.expect):
            raise PydanticCustomError(
                "dialogue_step",
                "a starttls step only upgrades the connection; send the protocol's command "
                "(STARTTLS, STLS, the LDAP extended request) and expect its answer in the step before",
            )
        if self.starttls is None and self.send is None and self.send_hex is None and self.expect is None:
            raise PydanticCustomError("dialogue_step", "a step needs send, send_hex, expect or starttls")
        return self


class TcpProbe(ProbeBase):
    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    send: str | None = None
    expect: Regex | None = None
    tls: bool = False
    ip_version: IpVersion = "any"
    tls_verify: bool = True
    ca_file: str | None = None
    client_cert: str | None = Field(default=None, min_length=1, description="PEM file: client certificate for mutual TLS")
    client_key: str | None = Field(default=None, min_length=1, description="PEM file: its private key (default: in client_cert)")
    client_key_password: str | None = Field(default=None, description="${env:NAME} of the key's password")
    dialogue: list[DialogueStep] | None = Field(
        default=None, min_length=1, description="send/expect steps and a starttls upgrade, in order"
    )

    @model_validator(mode="after")
    def _dialogue(self) -> TcpProbe:
        if self.dialogue is None:
            return self
        if self.send is not None or self.expect is not None:
            raise PydanticCustomError(
                "dialogue_with_send", "dialogue replaces send and expect; write them as its first steps"
            )
        names = [step.name for step in self.dialogue]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise PydanticCustomError(
                "dialogue_step_name", "dialogue step name '{name}' is used twice", {"name": twice}
            )
        upgrades = [step.name for step in self.dialogue if step.starttls is not None]
        if len(upgrades) > 1:
            raise PydanticCustomError("dialogue_starttls", "a dialogue upgrades to TLS once (starttls in steps {names})",
                                      {"names": ", ".join(repr(n) for n in upgrades)})  # fmt: skip
        if upgrades and self.tls:
            raise PydanticCustomError(
                "dialogue_starttls",
                "tls: true speaks TLS from the start; a starttls step upgrades a plain connection: keep one",
            )
        for step in self.dialogue:
            if step.timeout is not None and step.timeout >= self.timeout:
                raise PydanticCustomError(
                    "dialogue_step_timeout",
                    "step '{name}': its timeout ({step}) must be below the probe's timeout ({probe})",
                    {"name": step.name, "step": f"{step.timeout:g}s", "probe": f"{self.timeout:g}s"},
                )
        return self

    @model_validator(mode="after")
    def _tls_options(self) -> TcpProbe:
        _client_cert_pair(self)
        if not self.tls:
            # by value, not by presence: a stored revision writes every field with its default
            given = [
                name for name, value in
                (("tls_verify", not self.tls_verify), ("ca_file", self.ca_file), ("client_cert", self.client_cert))
                if value
            ]  # fmt: skip
            if given:
                raise PydanticCustomError(
                    "tls_options_without_tls",
                    "{fields} apply only with tls: true",
                    {"fields": ", ".join(given)},
                )
        return self


DnsRecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA"]


class DnsExpect(Strict):
    answers: list[str] = _empty_list()  # each must be among the answers
    rcode: Literal["NOERROR", "NXDOMAIN", "SERVFAIL", "REFUSED"] = "NOERROR"


class DnsProbe(ProbeBase):
    kind: Literal["dns"]
    name: str = Field(min_length=1)
    record_type: DnsRecordType = "A"
    server: str | None = None  # default: the system resolver
    port: int = Field(default=53, ge=1, le=65535)
    transport: Literal["udp", "tcp"] = "udp"
    expect: DnsExpect = DnsExpect()


class TlsProbe(ProbeBase):
    kind: Literal["tls"]
    host: str = Field(min_length=1)
    port: int = Field(default=443, ge=1, le=65535)
    server_name: str | None = None
    min_days_left: int = Field(default=14, ge=0)
    verify: bool = True
    ca_file: str | None = None
    client_cert: str | None = Field(default=None, min_length=1, description="PEM file: client certificate for mutual TLS")
    client_key: str | None = Field(default=None, min_length=1, description="PEM file: its private key (default: in client_cert)")
    client_key_password: str | None = Field(default=None, description="${env:NAME} of the key's password")

    @model_validator(mode="after")
    def _client_options(self) -> TlsProbe:
        _client_cert_pair(self)
        return self


class JourneyStep(Strict):
    name: str = Field(min_length=1)
    method: HttpMethod = "GET"
    url: Url
    headers: dict[str, str] = _empty_dict()
    form: dict[str, str] | None = None
    body: str | None = None
    max_duration: Duration | None = None
    extract: dict[Annotated[str, _pattern(re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), "variable", "token")], Regex] = _empty_dict()
    expect: HttpExpect = HttpExpect()

    @model_validator(mode="after")
    def _one_body(self) -> JourneyStep:
        if self.form is not None and self.body is not None:
            raise PydanticCustomError("step_body", "a step sends either form or body, not both")
        return self


class JourneyProbe(ProbeBase):
    kind: Literal["journey"]
    steps: list[JourneyStep] = Field(min_length=1)
    tls_verify: bool = True
    ca_file: str | None = None
    follow_redirects: bool = False


class IcmpProbe(ProbeBase):
    """ICMP echo (ping): ``count`` echo requests ``spacing`` apart, answered or lost."""

    kind: Literal["icmp"]
    host: str = Field(min_length=1)
    ip_version: IpVersion = "any"
    count: int = Field(default=3, ge=1, le=100, description="echo requests per run")
    spacing: Duration = Field(default=0.2, description="time between two echo requests")
    max_loss: float | None = Field(
        default=None, ge=0, lt=100, description="percent of requests that may go unanswered; default: any reply will do"
    )

    @model_validator(mode="after")
    def _fits(self) -> IcmpProbe:
        if (self.count - 1) * self.spacing >= self.timeout:
            raise PydanticCustomError(
                "icmp_spacing",
                "{count} requests {spacing} apart do not fit in the timeout ({timeout}); "
                "lower count or spacing, or raise timeout",
                {"count": self.count, "spacing": f"{self.spacing:g}s", "timeout": f"{self.timeout:g}s"},
            )
        return self


def _cron(value: str) -> str:
    from slamon.core.heartbeat import cron_problem  # croniter, loaded only for cron schedules

    problem = cron_problem(value)
    if problem:
        raise PydanticCustomError(
            "cron", "not a valid cron expression ({problem}); e.g. '30 2 * * *' (02:30 daily)",
            {"problem": problem},
        )
    return value


Cron = Annotated[str, AfterValidator(_cron), WithJsonSchema({"type": "string", "examples": ["30 2 * * *"]})]
"""A five-field cron expression (minute hour day-of-month month day-of-week) in the
service office's timezone."""


def _env_ref_only(value: str) -> str:
    if not ENV_REF_RE.fullmatch(value):
        raise PydanticCustomError(
            "heartbeat_token",
            "a heartbeat token is given as ${env:NAME} (the daemon's environment holds it), "
            "never written in the catalogue",
        )
    return value


class HeartbeatProbe(ProbeBase):
    """A push check: a batch job or backup calls ``POST /api/v1/heartbeat/{service}/{probe}``
    when it ran. Missing its schedule (``every`` or ``cron``) by more than ``grace`` is a
    failure (``missed``); a heartbeat with ``status=fail`` is a failure (``reported``).
    ``interval`` is how often the daemon records the heartbeat's state as a result."""

    kind: Literal["heartbeat"]
    timeout: Duration = Field(default=0.5, description="not used: a heartbeat is received, not run")
    every: Duration | None = Field(default=None, description="a heartbeat is expected at least this often")
    cron: Cron | None = Field(default=None, description="or at these times, in the office's timezone")
    grace: Duration = Field(default=300.0, description="how late a heartbeat may be before it is missed")
    token: Annotated[
        str,
        AfterValidator(_env_ref_only),
        WithJsonSchema({"type": "string", "pattern": "^\\$\\{env:[A-Za-z_][A-Za-z0-9_]*\\}$"}),
    ] = Field(
        description="${env:NAME} holding the bearer token the job sends"
    )

    @model_validator(mode="after")
    def _one_schedule(self) -> HeartbeatProbe:
        if (self.every is None) == (self.cron is None):
            raise PydanticCustomError(
                "heartbeat_schedule",
                "a heartbeat needs exactly one schedule: every: 24h, or cron: '30 2 * * *'",
            )
        return self


Probe = Annotated[
    HttpProbe | TcpProbe | DnsProbe | TlsProbe | JourneyProbe | IcmpProbe | HeartbeatProbe,
    Field(discriminator="kind"),
]


class Service(Strict):
    apiVersion: Literal["slamon/v1"]
    kind: Literal["Service"]
    id: ServiceId
    name: str = Field(min_length=1)
    office: OfficeId
    description: str = Field(min_length=1)
    owner: Owner
    category: Category
    lifecycle: Lifecycle
    tier: Slug
    sla: SLA | None = None
    maintenance: list[Maintenance] = _empty_list()
    automation: Automation
    practices: list[PracticeEvidence] = _empty_list()
    depends_on: list[ServiceId] = _empty_list()
    probes: list[Probe] = _empty_list()
    tags: list[Slug] = _empty_list()

    @model_validator(mode="after")
    def _unique_probe_ids(self) -> Service:
        seen: set[str] = set()
        for probe in self.probes:
            if probe.id in seen:
                raise PydanticCustomError(
                    "probe_id_duplicate", "probe id '{id}' is used twice in this service", {"id": probe.id}
                )
            seen.add(probe.id)
        return self

    def vantages(self, probe: ProbeBase) -> list[str]:
        """Offices a probe runs from: its ``from`` list, else the service's office."""
        return list(probe.from_) if probe.from_ else [self.office]
