"""Open data: DCAT export and import, a CKAN-compatible read API and the public, login-free catalog."""
