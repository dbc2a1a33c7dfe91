"""Base class of every source-file model: unknown keys are errors, models are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A section of a source file. Unknown keys are rejected so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FieldProblem(ValueError):
    """A model-level check that belongs to one field: reported at `<model path>.<field>`.

    Raise it from a `model_validator` so the error names `connector.cursor`, not just `connector`.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
