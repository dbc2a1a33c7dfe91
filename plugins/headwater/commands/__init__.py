"""Sub-commands of `headwater` beyond lint/schema, one module each.

Each module listed in `COMMANDS` defines `register(subparsers)`, adding its parser with
`set_defaults(run=callable)`; `run(args) -> int` is the exit status.
"""

COMMANDS = ("audience", "inlet", "new", "preview", "profile", "runs", "state", "status")
