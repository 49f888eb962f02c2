"""Features: entities, feature views, point-in-time training sets, online serving."""

from assay.features.spec import Entity, FeatureService, FeatureView, parse_ttl

__all__ = ["Entity", "FeatureService", "FeatureView", "parse_ttl"]
