"""Stage operators: connect → select → map → validate → load → monitor.

Each works in an ordinary hand-written DAG too; the source-file DAG builder is just one user.
There is one select operator per connector type (`PostgresSelectOperator`, ...), made from the
connector registry; import them from here or from `headwater.operators.select`.
"""

from headwater.operators.connect import ConnectOperator
from headwater.operators.load import LoadOperator
from headwater.operators.map import MapOperator
from headwater.operators.monitor import MonitorOperator
from headwater.operators.select import TYPED_OPERATORS, SelectOperator
from headwater.operators.validate import ValidateOperator

globals().update({cls.__name__: cls for cls in TYPED_OPERATORS.values()})

__all__ = [  # noqa: PLE0604  (the typed select operators are named by the registry)
    "ConnectOperator",
    "LoadOperator",
    "MapOperator",
    "MonitorOperator",
    "SelectOperator",
    "ValidateOperator",
    *(cls.__name__ for cls in TYPED_OPERATORS.values()),
]
