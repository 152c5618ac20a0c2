"""The pages' script and style sheet, and plotly.js from the installed ``plotly`` Python package.

Only the named files are served, so no request can reach any other file. plotly.js comes from the package's
own copy, so the pages need no front-end build and no network; without ``plotly`` installed it answers 404.
"""

from __future__ import annotations

import importlib.util
import pathlib
from functools import cache

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

__all__ = ["router"]

router = APIRouter()

_STATIC_DIR = pathlib.Path(__file__).resolve().parent.parent / "static"
_STATIC_FILES = {"pages.js": "text/javascript", "pages.css": "text/css"}
_PLOTLY_JS = "plotly.min.js"


@cache
def _plotly_js() -> pathlib.Path | None:
    """plotly.js as the ``plotly`` Python package ships it, or None if that package is not installed."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        return None
    path = pathlib.Path(spec.origin).parent / "package_data" / _PLOTLY_JS
    return path if path.is_file() else None


@router.get("/ui/static/{name}", include_in_schema=False)
def static_file(name: str) -> FileResponse:
    """The file ``name`` if it is one of the pages' own files or plotly.js; 404 for any other name."""
    if name == _PLOTLY_JS:
        path = _plotly_js()
        if path is None:
            raise HTTPException(status_code=404, detail="plotly.js is not available: install the plotly package")
        # 4.8 MB that changes only with the installed package: let the browser keep it a day.
        return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})
    if name not in _STATIC_FILES:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    # Our own files are small and change with the code: revalidated (ETag) on every load.
    return FileResponse(_STATIC_DIR / name, media_type=_STATIC_FILES[name], headers={"Cache-Control": "no-cache"})
