"""JSON Schemas of the city credential types (data files)."""
