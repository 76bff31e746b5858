"""``p2n claims PAPER``: list the quantitative claims found in a paper, with their citations."""

from __future__ import annotations

import argparse
import json
from typing import Any

from p2n import settings
from p2n.pipeline import extract, ingest


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "claims", help="list a paper's quantitative claims", description="Extract and list PAPER's claims."
    )
    parser.add_argument("paper", metavar="PAPER", help="PDF, text or markdown file, or an http(s)/s3 URL")
    parser.add_argument("--json", action="store_true", help="print the claims as a JSON list")
    parser.add_argument("--provider", choices=("auto", "offline", "openai"), default="auto")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = settings.get_settings()
    data = ingest.read_location(args.paper, settings=config)
    document = ingest.parse(data, filename=ingest.filename_of(args.paper))
    claims = extract.extract_claims(
        document, settings=config, extraction=extract.extraction_for(config, args.provider)
    )
    if args.json:
        print(json.dumps([c.model_dump(mode="json") for c in claims], indent=2))
        return 0
    for claim in claims:
        value = (
            f"{claim.value * 100:.{claim.decimals or 0}f}%"
            if claim.unit == "fraction"
            else f"{claim.value:g}"
        )
        print(
            f"{claim.id}: {claim.metric} = {value}  [{claim.dataset or '?'} / {claim.model or '?'} / "
            f"{claim.protocol or '?'}]"
        )
        print(f'    p.{claim.citation.page}: "{claim.citation.quote}"')
    return 0
