"""Query and body field types shared by the native routes: bounded, and free of control characters.

PostgreSQL refuses NUL in text parameters, so such input must be a 400 here, never a database 500.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field, StrictStr

NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"

IdQuery = Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL_CHARACTERS)]
KeyHashQuery = Annotated[
    str | None, Query(max_length=128, pattern=NO_CONTROL_CHARACTERS, description="A key hash of this org.")
]
ModelQuery = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL_CHARACTERS)]
TextQuery = Annotated[str | None, Query(max_length=100, pattern=NO_CONTROL_CHARACTERS)]
OrgIdQuery = Annotated[
    str | None,
    Query(max_length=64, pattern=NO_CONTROL_CHARACTERS, description="Another org (operator admins only)."),
]
CodeQuery = Annotated[str | None, Query(max_length=16, pattern=NO_CONTROL_CHARACTERS)]

Id = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=NO_CONTROL_CHARACTERS)]
Note = Annotated[StrictStr, Field(max_length=500, pattern=r"^[^\x00]*$")]

IdPath = Annotated[str, Path(max_length=64, pattern=NO_CONTROL_CHARACTERS)]
