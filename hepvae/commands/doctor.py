"""``hepvae doctor``: check the installation and what this machine can do."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the installation, the device and the precision")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from hepvae.doctor import diagnose

    report = diagnose()
    table = Table(title="hepvae doctor")
    for column in ("", "item", "value"):
        table.add_column(column)
    for section, item, value, ok in report.rows:
        table.add_row(section, item, value if ok else f"[yellow]{value}[/yellow]")
    console = Console()
    console.print(table)
    if report.problems:
        console.print(f"[red]core stack broken:[/red] {'; '.join(report.problems)}")
        return 1
    console.print("[green]core stack OK[/green]")
    return 0
