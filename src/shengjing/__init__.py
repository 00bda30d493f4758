"""Shengjing (盛京): a trusted public-data authorized-operation platform for city data bureaus."""

__version__ = "0.1.0"
