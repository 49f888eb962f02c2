"""Weather at the departure airport as features of a flight, point in time: each flight
gets the latest reading at or before its scheduled hour, at most 3 hours old."""

from assay import Entity, FeatureService, FeatureView

airport = Entity("airport", join_keys=["origin"], description="A New York airport.")

airport_weather = FeatureView(
    name="airport_weather",
    entities=[airport],
    source="silver.weather",
    timestamp="time_hour",
    ttl="3h",
    features=["temp", "humid", "wind_speed", "visib", "precip"],
)

delay_model = FeatureService(
    name="delay_model",
    features=[
        "airport_weather:temp",
        "airport_weather:wind_speed",
        "airport_weather:visib",
        "airport_weather:precip",
    ],
)
