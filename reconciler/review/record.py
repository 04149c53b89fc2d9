"""The review record: each review's findings and decisions are kept in git as reviews/YYYY-MM-DD.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath

import git

REVIEWS_DIR = "reviews"


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    date: date
    file: str


def last_review(commit: git.Commit, reviews_dir: str = REVIEWS_DIR) -> ReviewRecord | None:
    """The newest review record in the tree of ``commit`` (file names are the review dates)."""
    try:
        tree = commit.tree / reviews_dir
    except KeyError:
        return None
    found = []
    for blob in tree.blobs:
        path = PurePosixPath(blob.path)
        if path.suffix != ".md":
            continue
        try:
            found.append(ReviewRecord(date.fromisoformat(path.stem), str(path)))
        except ValueError:
            continue  # notes beside the records
    return max(found, key=lambda r: r.date, default=None)
