"""The item resource as the API speaks it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

NAME_MAX = 200
DESCRIPTION_MAX = 2000
QUANTITY_MAX = 2**31 - 1  # PostgreSQL INTEGER
ID_MAX = 2**63 - 1  # PostgreSQL BIGINT: larger ids are a 422, not a database error


class ItemIn(BaseModel):
    """What a client sends to create or replace an item."""

    # Unknown fields are rejected so a misspelt field is a 422 naming it, not silently lost.
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    quantity: int = Field(default=0, ge=0, le=QUANTITY_MAX)


class Item(BaseModel):
    """An item as stored."""

    id: int
    name: str
    description: str
    quantity: int
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[Item]
    limit: int
    offset: int


class ErrorBody(BaseModel):
    """Every error the service answers has this shape (422s add `fields`)."""

    error: str
    message: str
