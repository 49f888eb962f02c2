"""Finding personal data in a column: rules on its name and patterns on sampled values.

Values are checked the way the standards define them, not by shape alone: card numbers
pass the Luhn check, IBANs the ISO 13616 mod-97 check, US social security numbers the
SSA's rules on area, group and serial, French NIR its 97-key, Spanish DNI its check
letter, UK National Insurance numbers the HMRC prefix rules; IP addresses must parse.
A column's confidence for a kind is the share of its sampled non-null values that match,
raised by a column name that says the same (`email`, `card_number`): a name alone gives
`NAME_WEIGHT`, a name contradicted by every sampled value (a tokenized `card_number`)
half of it. Examples are masked here, before they go anywhere.

Example:
    >>> luhn("4111 1111 1111 1111"), iban_valid("GB82 WEST 1234 5698 7654 32")
    (True, True)
    >>> value_kind("jane.doe@example.org"), value_kind("192.168.0.1")
    ('email', 'ip_address')
    >>> name_kinds("customer_email"), name_kinds("merchant_name"), name_kinds("FirstName")
    ({'email'}, set(), {'name'})
    >>> name_kinds("ip_address"), name_kinds("home_address")
    ({'ip_address'}, {'address'})
    >>> mask_example("jane.doe@example.org", "email")
    'j***@e***.org'
    >>> mask_example("4111111111111111", "card_number")
    '**************11'
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Confidence a matching column name alone gives.
NAME_WEIGHT = 0.5
#: ... and a column named just `name`, which is as often a product's or a place's: its
#: values must read as people's full names to reach NAME_WEIGHT and above.
BARE_NAME_WEIGHT = 0.3
#: Kinds that values can prove (the others are known by name only).
VALUE_KINDS = ("email", "iban", "card_number", "ssn", "national_id", "ip_address", "phone")
#: Kinds with one format everywhere: sampled values that never match contradict the name
#: (phone numbers and national ids have too many local formats to say so).
_ONE_FORMAT = frozenset({"email", "iban", "card_number", "ssn", "ip_address"})

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_CARD = re.compile(r"^\d(?:[ -]?\d){12,18}$")
_SSN = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_NIR = re.compile(r"^([12]\d{4}(?:\d{2}|2A|2B)\d{6})(\d{2})$")
_DNI = re.compile(r"^(\d{8})-?([A-Z])$")
_NINO = re.compile(r"^(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,24}$")
_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
#: A plain (decimal) number: a coordinate or an amount, not a phone number.
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

#: Column-name rules: kind -> a pattern over the name's words joined by `_`.
_NAME_RULES: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"(^|_)e_?mail(_?address)?(_|$)"),
    "phone": re.compile(
        r"(^|_)(phone|mobile|cell|tel|telephone|msisdn|fax)(_?(number|no|num))?(_|$)"
    ),
    "card_number": re.compile(
        r"(^|_)(card_?(number|num|no|nr)|pan|cc_?(number|num)?|credit_?card(_?number)?)(_|$)"
    ),
    "iban": re.compile(r"(^|_)(iban|bank_?account(_?number)?|account_?number)(_|$)"),
    "ip_address": re.compile(r"(^|_)(ip|ip_?addr(ess)?|ipv4|ipv6|client_?ip|remote_?addr)(_|$)"),
    "ssn": re.compile(r"(^|_)(ssn|social_?security(_?number)?)(_|$)"),
    "national_id": re.compile(
        r"(^|_)(national_?id|nino|nir|insee|passport(_?number)?|tax_?id|nif|dni|nie|"
        r"id_?card(_?number)?|personnummer|bsn|pesel|aadhaar|sin)(_|$)"
    ),
    "name": re.compile(
        r"(^name$|(^|_)(first|last|full|given|family|middle|sur|maiden|customer|"
        r"user|person|contact|holder|cardholder)_?name(_|$)|(^|_)surname(_|$))"
    ),
    # Not an IP, MAC, email or web address.
    "address": re.compile(
        r"(^|_)(?<!ip_)(?<!mac_)(?<!mail_)(?<!web_)(address|street|addr|address_?line_?\d?)(_|$)"
    ),
    "birth_date": re.compile(r"(^|_)(dob|birth_?date|date_?of_?birth|birthday|born_?on)(_|$)"),
    "postal_code": re.compile(r"(^|_)(zip|zip_?code|postcode|postal_?code)(_|$)"),
}
#: Names that match a rule's words but hold something else.
_NOT_PERSONAL = re.compile(r"(^|_)(file|table|column|merchant|company|product|host|domain)_")


def words(column: str) -> str:
    """A column name as lower-case words joined by `_` (camelCase split).

    Example:
        >>> words("customerEmailAddress"), words("IP-Address")
        ('customer_email_address', 'ip_address')
    """
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def name_kinds(column: str) -> set[str]:
    """The kinds of personal data a column's name says it holds."""
    name = words(column)
    if _NOT_PERSONAL.search(name):
        return set()
    return {kind for kind, rule in _NAME_RULES.items() if rule.search(name)}


def luhn(text: str) -> bool:
    """Whether the digits of `text` pass the Luhn (mod 10) check."""
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return bool(digits) and total % 10 == 0


def iban_valid(text: str) -> bool:
    """Whether `text` is an IBAN passing the ISO 13616 mod-97 check (spaces allowed)."""
    compact = text.replace(" ", "").upper()
    if not _IBAN.match(compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ssn_valid(text: str) -> bool:
    found = _SSN.match(text)
    if not found:
        return False
    area, group, serial = found.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _nir_valid(text: str) -> bool:
    found = _NIR.match(text.replace(" ", "").upper())
    if not found:
        return False
    body = found.group(1).replace("2A", "19").replace("2B", "18")
    return 97 - int(body) % 97 == int(found.group(2))


def _dni_valid(text: str) -> bool:
    found = _DNI.match(text.upper())
    return found is not None and _DNI_LETTERS[int(found.group(1)) % 23] == found.group(2)


def _ip(text: str) -> bool:
    if "." not in text and ":" not in text:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone(text: str) -> bool:
    if not _PHONE.match(text) or _DATE_LIKE.match(text) or _NUMBER.match(text):
        return False
    digits = sum(c.isdigit() for c in text)
    separated = text.startswith("+") or any(c in text for c in " ()-.")
    return 8 <= digits <= 15 and separated


def value_kind(value: str) -> str | None:
    """The kind of personal data one value is, checked in an order that settles overlaps
    (an IP or an SSN also looks like a phone number)."""
    text = value.strip()
    if not text or len(text) > 254:
        return None
    if "@" in text:
        return "email" if _EMAIL.match(text) else None
    if iban_valid(text):
        return "iban"
    if _CARD.match(text) and luhn(text):
        return "card_number"
    if _ssn_valid(text):
        return "ssn"
    if _nir_valid(text) or _dni_valid(text) or _NINO.match(text.replace(" ", "").upper()):
        return "national_id"
    if _ip(text):
        return "ip_address"
    if _phone(text):
        return "phone"
    return None


def mask_example(value: str, kind: str) -> str:
    """`value` masked for showing: an email's first letter and top-level domain, an IP's
    first part, otherwise at most the last two letters or digits (a country code for
    an IBAN); the separators stay, so the shape shows."""
    text = value.strip()
    if kind == "email" and "@" in text:
        local, _, domain = text.rpartition("@")
        host, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{host[:1]}***.{tld}"
    if kind == "ip_address":
        sep = ":" if ":" in text else "."
        return text.split(sep)[0] + sep + "*"
    alnum = [i for i, c in enumerate(text) if c.isalnum()]
    shown = set(alnum[-2:]) if len(alnum) > 6 else set()
    if kind == "iban" and len(alnum) > 6:
        shown |= set(alnum[:2])
    if kind in ("name", "address") and alnum:
        shown = {alnum[0]}
    return "".join(c if i in shown or not c.isalnum() else "*" for i, c in enumerate(text))


@dataclass(frozen=True)
class ColumnEvidence:
    """What was found for one kind in one column.

    Attributes:
        kind: the kind of personal data.
        confidence: 0..1 (see the module).
        matched: sampled non-null values of this kind.
        sampled: sampled non-null values.
        examples: up to three matching values, masked.
        by_name: whether the column's name says this kind.
    """

    kind: str
    confidence: float
    matched: int
    sampled: int
    examples: tuple[str, ...]
    by_name: bool


def classify_values(values: Sequence[str]) -> dict[str, set[int]]:
    """The positions in `values` of each kind found (blanks never match)."""
    found: dict[str, set[int]] = {}
    for i, value in enumerate(values):
        kind = value_kind(value)
        if kind is not None:
            found.setdefault(kind, set()).add(i)
    return found


_PERSON_WORD = re.compile(r"^(?:[A-Z][a-z]*(?:['\u2019-]?[A-Z]?[a-z]+)+|[A-Z]\.)$")
#: Words of organisation, place and product names, which are not people's.
_NOT_A_PERSON = frozenset(
    [
        "airport",
        "field",
        "municipal",
        "regional",
        "international",
        "county",
        "inc",
        "inc.",
        "corp",
        "co",
        "llc",
        "ltd",
        "limited",
        "company",
        "air",
        "airlines",
        "lines",
        "airways",
        "bank",
        "group",
        "university",
        "school",
        "hospital",
        "city",
        "park",
        "street",
        "avenue",
        "road",
    ]
)


def person_like(value: str, words_needed: int = 1) -> bool:
    """Whether `value` reads as a person's name: 1 to 4 capitalised words (at least
    `words_needed`), none of them an organisation's or a place's.

    Example:
        >>> person_like("Ada Lovelace", 2), person_like("Moton Field Municipal Airport", 2)
        (True, False)
    """
    parts = value.split()
    if not words_needed <= len(parts) <= 4:
        return False
    return all(_PERSON_WORD.match(p) and p.lower() not in _NOT_A_PERSON for p in parts)


def _name_evidence(column: str, values: Sequence[str]) -> tuple[float, set[int]]:
    """Confidence and matching positions for kind `name`, which the column's name
    suggested: a bare `name` (an airport's, a product's?) needs values that read as a
    person's full name; `first_name`, `customer_name` are people's by their name."""
    bare = words(column) == "name"
    matched = {i for i, v in enumerate(values) if person_like(v.strip(), 2 if bare else 1)}
    share = len(matched) / len(values) if values else 0.0
    if bare:
        return round(BARE_NAME_WEIGHT + (1 - BARE_NAME_WEIGHT) * share * 0.5, 4), matched
    return round(1 - (1 - share) * (1 - NAME_WEIGHT), 4), matched


def confidence(matched: int, sampled: int, by_name: bool, provable: bool) -> float:
    """Combine the share of matching values with the name's evidence (see the module);
    `provable`: the kind has one format, so values that never match contradict the name.

    Example:
        >>> confidence(10, 100, True, True), confidence(0, 100, True, True)
        (0.55, 0.25)
    """
    share = matched / sampled if sampled else 0.0
    if by_name and provable and sampled and not matched:
        return NAME_WEIGHT / 2
    weight = NAME_WEIGHT if by_name else 0.0
    return round(1 - (1 - share) * (1 - weight), 4)


def evidence(
    column: str, values: Sequence[str], extra: Mapping[str, set[int]] | None = None
) -> list[ColumnEvidence]:
    """Every kind a column's name or sampled values point at, most confident first.

    Args:
        column: the column's name.
        values: its sampled non-null values, as text.
        extra: more matches by kind, as positions in `values` (e.g. Presidio's).
    """
    by_value = classify_values(values)
    for kind, more in (extra or {}).items():
        by_value[kind] = by_value.get(kind, set()) | set(more)
    by_name = name_kinds(column)
    found = []
    for kind in sorted(set(by_value) | by_name):
        matched = sorted(by_value.get(kind, set()))
        score = confidence(len(matched), len(values), kind in by_name, kind in _ONE_FORMAT)
        if kind == "name":
            score, named = _name_evidence(column, values)
            matched = sorted(named)
        shown = matched or (list(range(len(values))) if kind not in VALUE_KINDS else [])
        examples = tuple(dict.fromkeys(mask_example(values[i], kind) for i in shown[:3]))
        found.append(
            ColumnEvidence(kind, score, len(matched), len(values), examples, kind in by_name)
        )
    return sorted(found, key=lambda e: (-e.confidence, e.kind))
