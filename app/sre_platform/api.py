"""/api/v1/items: create, read, list, replace and delete items.

Single-item reads go through the Redis cache (read-through: a miss loads from
PostgreSQL and fills the cache); every write invalidates the item's entry after the
transaction commits. A cached item is served as the exact bytes stored, without
decoding, which is what makes the hot path cheap.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from starlette.exceptions import HTTPException

from . import repository
from .database import connection
from .models import ID_MAX, ErrorBody, Item, ItemIn, ItemPage
from .services import services

PREFIX = "/api/v1/items"
JSON = "application/json"

router = APIRouter(
    prefix=PREFIX,
    tags=["items"],
    responses={
        422: {"model": ErrorBody, "description": "A field is invalid; `fields` names it."},
        503: {"model": ErrorBody, "description": "PostgreSQL is unavailable."},
    },
)

ItemId = Annotated[int, Path(ge=1, le=ID_MAX, description="The item's id.")]


def _body(row: dict[str, Any]) -> bytes:
    return Item.model_validate(row).model_dump_json().encode()


def _not_found(item_id: int) -> HTTPException:
    return HTTPException(404, f"item {item_id} does not exist")


@router.post("", status_code=201, response_model=Item)
async def create_item(item: ItemIn, request: Request) -> Response:
    async with connection(services(request).pool) as conn:
        row = await repository.insert(conn, item)
    location = f"{PREFIX}/{row['id']}"
    return Response(_body(row), 201, media_type=JSON, headers={"Location": location})


@router.get("", response_model=ItemPage)
async def list_items(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ItemPage:
    async with connection(services(request).pool) as conn:
        rows = await repository.page(conn, limit, offset)
    return ItemPage(items=[Item.model_validate(r) for r in rows], limit=limit, offset=offset)


@router.get("/{item_id}", response_model=Item, responses={404: {"model": ErrorBody}})
async def get_item(item_id: ItemId, request: Request) -> Response:
    svc = services(request)
    cached = await svc.cache.get(item_id)
    if cached is not None:
        return Response(cached, media_type=JSON, headers={"X-Cache": "hit"})
    async with connection(svc.pool) as conn:
        row = await repository.get(conn, item_id)
    if row is None:
        raise _not_found(item_id)
    body = _body(row)
    await svc.cache.put(item_id, body)
    return Response(body, media_type=JSON, headers={"X-Cache": "miss"})


@router.put("/{item_id}", response_model=Item, responses={404: {"model": ErrorBody}})
async def replace_item(item_id: ItemId, item: ItemIn, request: Request) -> Response:
    svc = services(request)
    async with connection(svc.pool) as conn:
        row = await repository.replace(conn, item_id, item)
    if row is None:
        raise _not_found(item_id)
    await svc.cache.invalidate(item_id)
    return Response(_body(row), media_type=JSON)


@router.delete("/{item_id}", status_code=204, responses={404: {"model": ErrorBody}})
async def delete_item(item_id: ItemId, request: Request) -> Response:
    svc = services(request)
    async with connection(svc.pool) as conn:
        deleted = await repository.delete(conn, item_id)
    if not deleted:
        raise _not_found(item_id)
    await svc.cache.invalidate(item_id)
    return Response(status_code=204)
