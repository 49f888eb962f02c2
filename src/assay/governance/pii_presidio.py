"""Presidio's recognizers as more evidence for `assay pii scan` (the `pii` extra).

Presidio's AnalyzerEngine wants a spaCy model, which cannot be downloaded here, so its
pattern recognizers are called directly: each is a regular expression plus the
standard's check (Luhn, mod-97, national id check digits), which needs no NLP model.
Only matches that cover the whole value count (a column holds one thing per row).
The email recognizer is left out: it looks domains up in a public-suffix list fetched
from the internet, and assay's own email pattern already decides.

Example:
    >>> matches = presidio_matches(["4111 1111 1111 1111", "hello"])
    >>> matches  # positions of the values found, by kind
    {'card_number': {0}}
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from assay.errors import MissingExtraError

log = logging.getLogger("assay.governance")

#: Presidio recognizer class -> the kind assay reports; a value counts for the first
#: recognizer that finds it whole.
RECOGNIZERS = {
    "CreditCardRecognizer": "card_number",
    "IbanRecognizer": "iban",
    "IpRecognizer": "ip_address",
    "UsSsnRecognizer": "ssn",
    "UkNinoRecognizer": "national_id",
    "NhsRecognizer": "national_id",
    "EsNifRecognizer": "national_id",
    "EsNieRecognizer": "national_id",
    "ItFiscalCodeRecognizer": "national_id",
    "PlPeselRecognizer": "national_id",
    "FiPersonalIdentityCodeRecognizer": "national_id",
    "SePersonnummerRecognizer": "national_id",
    "InAadhaarRecognizer": "national_id",
    "AuTfnRecognizer": "national_id",
    "DeTaxIdRecognizer": "national_id",
    # Last: many national ids (NHS numbers) are also dialable digit groups.
    "PhoneRecognizer": "phone",
}
#: Presidio's scores below this are unvalidated shapes (e.g. any 9 digits for a TFN).
MIN_SCORE = 0.4
#: Values tried first: a column where none of them matches is not read further (each
#: value costs every recognizer, ~0.5 ms in all).
PROBE = 50


def available() -> bool:
    """Whether the `pii` extra (presidio-analyzer) is installed."""
    try:
        import presidio_analyzer  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _recognizers() -> tuple[tuple[Any, str], ...]:
    try:
        from presidio_analyzer import predefined_recognizers
    except ImportError:
        raise MissingExtraError("presidio-analyzer", "pii") from None
    made = []
    for name, kind in RECOGNIZERS.items():
        cls = getattr(predefined_recognizers, name, None)
        if cls is None:  # not in this Presidio release
            continue
        try:
            made.append((cls(), kind))
        except Exception as exc:  # one broken recognizer is not worth failing the scan
            log.warning("pii scan: Presidio %s unusable here: %s", name, exc)
    return tuple(made)


def presidio_matches(values: Sequence[str]) -> dict[str, set[int]]:
    """The positions of the values each Presidio recognizer finds, whole, by assay kind
    (nothing when none of the first `PROBE` values matches).

    Raises:
        MissingExtraError: presidio-analyzer is not installed.
    """
    probe = _matches(values[:PROBE])
    return _matches(values) if probe else {}


def _matches(values: Sequence[str]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    recognizers = _recognizers()
    for i, value in enumerate(values):
        text = value.strip()
        if not text:
            continue
        for recognizer, kind in recognizers:
            results = recognizer.analyze(text, recognizer.supported_entities, None)
            if any(r.start == 0 and r.end == len(text) and r.score >= MIN_SCORE for r in results):
                found.setdefault(kind, set()).add(i)
                break
    return found
