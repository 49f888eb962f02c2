"""Compute engines behind one small interface, found through a registry by name."""

from assay.engines.base import Engine, Frame, Source, TableRef, get_engine, register_engine

__all__ = ["Engine", "Frame", "Source", "TableRef", "get_engine", "register_engine"]
