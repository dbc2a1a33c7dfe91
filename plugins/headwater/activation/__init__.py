"""Activation: audiences computed from the unified profiles, sent to destinations.

`models` (audience files), `loader` (files → audiences, located errors), `condition` (the mapping
expression language compiled to SQL for the profile store, the rest on Arrow), `membership`
(select), `diff` and `members` (what each destination acknowledged), `destinations/` (one hook
per destination type), `operators` (the six stages), `dags` (audience → DAG). Importing the
package imports nothing heavy.
"""
