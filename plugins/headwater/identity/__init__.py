"""Identity namespaces (how values are normalised, whether they link profiles) and merge policies.

Imported at DAG parse time: pydantic and PyYAML only; `phonenumbers` is imported when a phone is
first normalised.
"""
