"""A small real index with two versions of one regulation, for the dated-evaluation tests."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from tests.fakes import HashEmbedder

from ingest.manifest import Stated
from ingest.pipeline import ingest_paths

V1_DATE, V2_DATE = date(2020, 1, 1), date(2024, 1, 1)

# 900.1(b) changes editorially (a comma), 900.2(a) substantively (30 -> 60 days), 900.2(b) is removed.
REG_2020 = """# 12 CFR Part 900 - Sample Notices

§ 900.1 Purpose.

(a) This part sets out when a lender must send a notice of action taken.

(b) It applies to every lender that extends consumer credit.

§ 900.2 Notices.

(a) A lender shall notify an applicant within 30 days after receiving a completed application.

(b) A lender shall keep a copy of each notice it sends.
"""
REG_2024 = (REG_2020.replace("30 days", "60 days").replace("every lender that", "every lender, that")
            .replace("(b) A lender shall keep a copy of each notice it sends.\n", ""))



def ingest_two_versions(settings, folder: Path) -> None:
    """Both versions of 12 CFR 900 into settings' index, dated as users state them at ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    old, new = folder / "part900-2020.md", folder / "part900-2024.md"
    old.write_text(REG_2020, encoding="utf-8")
    new.write_text(REG_2024, encoding="utf-8")
    ingest_paths([old, new], settings, progress=False, embedder=HashEmbedder(64),
                 stated={old.resolve(): Stated(V1_DATE), new.resolve(): Stated(V2_DATE)})


QUESTIONS = [
    {"id": "days", "question": "Within how many days must a lender notify an applicant?",
     "gold": ["12 CFR 900.2(a)"], "key_facts": ["30 days"]},
    {"id": "notices", "question": "What does § 900.2 require of lenders?", "gold": ["12 CFR 900.2"]},
    {"id": "copy", "question": "Must a lender keep a copy of each notice?", "gold": ["12 CFR 900.2(b)"],
     "as_of": "2021-01-01"},
    {"id": "scope", "question": "Which lenders does Part 900 apply to?", "gold": ["12 CFR 900.1(b)"]},
    {"id": "none", "question": "What is the minimum capital of a bank?", "answerable": False},
]


def write_set(path: Path, rows: list[dict] = QUESTIONS, header: dict | None = None) -> Path:
    lines = ([json.dumps({"set": header})] if header else []) + [json.dumps(r, ensure_ascii=False) for r in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
