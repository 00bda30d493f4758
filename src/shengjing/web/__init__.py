"""Shared web layer: authentication dependencies, layout, static assets, i18n, errors, operations routes."""
