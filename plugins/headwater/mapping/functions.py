"""The function library of the expression language: importing this module registers every built-in
function (one module per family, `fn_*.py`) in `registry.FUNCTIONS`.

Each implementation is called as `impl(ctx, *args)`: an argument is an Arrow array or scalar, except
those declared in `literals`, which arrive as the Python value written in the expression (and the
lazy functions, which get `evaluation.Branch`es). pyarrow is imported inside the functions, which
only run in tasks.
"""

from __future__ import annotations

from headwater.mapping import fn_convert, fn_data, fn_hash, fn_logic, fn_text, fn_time, lookups  # noqa: F401
from headwater.mapping.kernel import per_distinct as per_distinct  # for functions added elsewhere
from headwater.mapping.registry import FUNCTIONS as FUNCTIONS
from headwater.mapping.registry import FunctionSpec as FunctionSpec
from headwater.mapping.registry import register as register
from headwater.mapping.registry import unary_functions as unary_functions
