"""assay.yaml and contract files that cannot be read as intended: binary or non-UTF-8 text,
control characters, a key written twice (YAML keeps the last silently), a bad regex. Each
is one error naming file, line and column (or rule) and exit code 2 (before: a 52-line
UnicodeDecodeError traceback for a binary assay.yaml, and a duplicate key was accepted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hardening.cli_errors import assert_one_error, hint_of, invoke, scaffold

CONTRACT = """\
apiVersion: v3.1.0
kind: DataContract
id: orders
name: Orders
version: 1.0.0
status: active
schema:
  - name: orders
    physicalName: silver.orders
    properties:
      - name: order_id
        logicalType: integer
{extra}"""


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    return scaffold(tmp_path / "shop")


def test_a_binary_assay_yaml_is_not_utf8(shop: Path) -> None:
    config = shop / "assay.yaml"
    config.write_bytes(b"name: shop\n\x89PNG\r\n\x1a\n\x00\x00")
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{config}:2:1:", "not UTF-8 text (byte 0x89)")
    assert "save assay.yaml as UTF-8" in hint_of(outcome)


def test_a_control_character_in_assay_yaml_is_placed(shop: Path) -> None:
    config = shop / "assay.yaml"
    config.write_text("name: shop\nengine: duck\x00db\n")
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{config}:2:13:", "control character '\\x00'")


def test_a_yaml_syntax_error_is_one_line_with_its_position(shop: Path) -> None:
    config = shop / "assay.yaml"
    config.write_text("name: shop\nvars: [a, b\nengine: duckdb\n")
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{config}:3:", "invalid YAML", "expected ',' or ']'")


def test_a_duplicate_key_in_assay_yaml_is_refused(shop: Path) -> None:
    config = shop / "assay.yaml"
    config.write_text("name: shop\nwarehouse: lake\nengine: duckdb\nwarehouse: warehouse\n")
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{config}:4:1:", "duplicate key 'warehouse' (first on line 2)")
    assert "remove one of the two" in hint_of(outcome)


def test_a_nested_duplicate_key_is_refused_but_a_merge_key_may_be_overridden(shop: Path) -> None:
    config = shop / "assay.yaml"
    config.write_text("name: shop\nvars:\n  region: eu\n  region: us\n")
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{config}:4:3:", "duplicate key 'region'")
    config.write_text(
        "name: shop\nretries: &base {attempts: 2, backoff_initial: 0}\n"
        "vars:\n  <<: *base\n  attempts: 5\n"
    )
    assert invoke("plan", "--project", str(shop)).exit_code == 0


def test_a_duplicate_key_in_a_contract_is_refused(shop: Path) -> None:
    contract = shop / "contracts" / "orders.yaml"
    contract.write_text(CONTRACT.format(extra="        logicalType: string\n"))
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{contract}:13:9:", "duplicate key 'logicalType'")


def test_a_non_utf8_contract_is_placed(shop: Path) -> None:
    contract = shop / "contracts" / "orders.yaml"
    contract.write_bytes(CONTRACT.format(extra="        description: caf\xe9\n").encode("latin-1"))
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, f"{contract}:13:25:", "not UTF-8 text (byte 0xe9)")


@pytest.mark.parametrize(
    ("extra", "rule"),
    [
        (
            "      - name: customer_id\n        logicalType: string\n"
            "        logicalTypeOptions: {pattern: '[0-9+'}\n",
            "pattern(customer_id)",
        ),
        (
            "        quality:\n          - {type: library, metric: invalidValues, mustBe: 0,"
            " arguments: {pattern: '(ab'}}\n",
            "invalidValues(order_id)",
        ),
    ],
)
def test_a_bad_regex_in_a_contract_names_the_file_and_rule(
    shop: Path, extra: str, rule: str
) -> None:
    contract = shop / "contracts" / "orders.yaml"
    contract.write_text(CONTRACT.format(extra=extra))
    outcome = invoke("plan", "--project", str(shop))
    assert_one_error(outcome, 2, str(contract), rule, "not a valid regular expression")
    assert "ECMA-262" in hint_of(outcome)
