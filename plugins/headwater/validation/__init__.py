"""Validate stage: the `validate:` section model (`models`, parse-time safe) and the GX runner (`runner`).

Nothing is imported here so that importing `headwater.validation.models` stays light.
"""
