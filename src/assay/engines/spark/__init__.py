"""The Spark engine: PySpark with Delta Lake, for projects that outgrow one machine."""

from assay.engines.spark.engine import SparkEngine

__all__ = ["SparkEngine"]
