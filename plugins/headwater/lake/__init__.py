"""The data lake: run-scoped staging parts (`staging`), Delta tables (`delta`), the quarantine table.

Used inside tasks only; nothing is imported here so importing the package stays cheap.
"""
