"""The stable diagnostic codes of the catalogue validator.

A code never changes meaning once published: CI jobs and people grep for them.
E... codes are errors (the catalogue is refused); W... codes are warnings (the
catalogue loads, but a service is kept out of an indicator).
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # ---- reading the file
    "E001": "the file cannot be read",
    "E002": "the file is larger than the size limit",
    "E003": "the file is not UTF-8 text",
    "E004": "YAML syntax error",
    "E005": "a tab is used for indentation",
    "E006": "the file is empty",
    "E007": "more than one YAML document in the file",
    "E008": "a key appears twice in the same mapping",
    "E009": "too many aliases or expanded nodes (alias bomb)",
    "E010": "nesting is too deep",
    "E011": "an unsupported YAML tag",
    "E012": "the document is not a mapping",
    "E013": "a required catalogue file is missing",
    "E014": "a file is not where the catalogue layout expects it",
    # ---- one document against its schema
    "E100": "unknown field",
    "E101": "missing required field",
    "E102": "wrong type",
    "E103": "value not among the allowed values",
    "E104": "value out of range or of the wrong length",
    "E105": "identifier or text in the wrong format",
    "E106": "bad duration",
    "E107": "unquoted time read by YAML as a number",
    "E108": "bad time of day",
    "E109": "unknown timezone",
    "E110": "bad URL",
    "E111": "bad regular expression",
    "E112": "bad date or date-time",
    "E113": "probe timeout not below its interval",
    "E114": "inconsistent values inside one object",
    "E115": "duplicate id inside one file",
    "E199": "invalid value",
    # ---- one service against the rest of the catalogue
    "E200": "office does not match the folder",
    "E201": "service id does not start with its office",
    "E202": "file name does not match the service id",
    "E203": "duplicate service id in the catalogue",
    "E204": "unknown office",
    "E205": "unknown tier",
    "E206": "unknown dependency",
    "E207": "dependency cycle",
    "E208": "unknown calendar",
    "E209": "SLA availability looser than its tier",
    "E210": "SLA latency looser than its tier",
    "E211": "SLA period longer than its tier's",
    "E212": "secret written in clear",
    "E213": "journey variable used before it is extracted",
    "E214": "malformed ${...} reference",
    # ---- warnings: they keep a service out of an indicator
    "W001": "automation marked automated without evidence",
    "W002": "practice without evidence",
    "W003": "practice review missing, too old or in the future",
    "W004": "production service depends on a retired service",
    "W005": "practice clause not in the ISO profile",
    "W006": "production service with no enabled probe",
    "W007": "practices listed but a clause the ISO profile requires is missing",
}

INDICATOR_AUTOMATED = "(a)(i) automated services"
INDICATOR_LEVELS = "(a)(ii) services meeting their service level"
INDICATOR_ISO = "(b) ISO-aligned services"
