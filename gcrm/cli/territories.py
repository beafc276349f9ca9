"""Sales territories: ``gcrm territories build`` and ``gcrm territories import``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gcrm.cli._common import LazyModule, Run, command, echo_json, group

if TYPE_CHECKING:
    from gcrm import territories
else:
    territories = LazyModule("gcrm.territories")

territories_app = group("territories", "Sales territories.")


class Balance(StrEnum):
    """What built territories balance."""

    workload = "workload"
    potential = "potential"


@command(territories_app, "build")
def territories_build(
    run: Run,
    k: Annotated[int, typer.Option("--k", help="Number of territories.")],
    balance: Annotated[Balance, typer.Option(help="Balance workload or potential value.")] = (
        Balance.workload
    ),
    set_owners: Annotated[
        bool, typer.Option(help="Make each territory's rep the owner of its accounts.")
    ] = False,
    seconds: Annotated[float, typer.Option(help="Time limit of the optimiser.")] = 20.0,
) -> None:
    """Split the region into K balanced, contiguous territories seeded at rep home bases."""
    with run.acting() as (session, actor):
        result = territories.build_and_save_territories(
            session, actor, k, balance.value, set_owners=set_owners, time_limit_s=seconds
        )
    echo_json(result)


@command(territories_app, "import")
def territories_import(
    run: Run,
    file: Annotated[Path, typer.Argument(help="GeoJSON of territory polygons.")],
    name_field: Annotated[str, typer.Option(help="Property holding the name.")] = "name",
    owner_field: Annotated[str, typer.Option(help="Property holding the owner.")] = "owner",
    replace: Annotated[bool, typer.Option(help="Replace the region's territories.")] = False,
) -> None:
    """Load territories from GeoJSON and assign accounts by spatial join."""
    with run.acting() as (session, actor):
        result = territories.import_territories(
            session, actor, file, name_field=name_field, owner_field=owner_field, replace=replace
        )
    echo_json(result)
