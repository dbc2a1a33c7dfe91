"""Mapping stage: the `mapping` section model, the expression language and its execution on Arrow.

`models` and `expressions` are imported at DAG parse time and stay pyarrow-free; `engine`,
`functions` and `casting` import pyarrow inside the functions that run in tasks.
"""
