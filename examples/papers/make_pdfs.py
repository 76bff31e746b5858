"""Regenerate the sample PDFs from pdf-src/*.txt with fpdf2 (run: uv run python examples/papers/make_pdfs.py).

The sources are plain text with a tiny markup: '# ' title, '## ' heading, 'Table N:' caption
followed by '|' rows rendered as a real PDF table, '<<<page>>>' page breaks. The creation date is
fixed so the same sources give the same bytes, and so the same sha256.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
FIXED_DATE = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _paragraphs(block: str) -> list[list[str]]:
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current = []
            continue
        current.append(line)
    if current:
        paragraphs.append(current)
    return paragraphs


def _render_paragraph(pdf: FPDF, lines: list[str]) -> None:
    first = lines[0]
    if first.startswith("# "):
        pdf.set_font("Helvetica", style="B", size=16)
        pdf.multi_cell(0, 8, first[2:], new_x="LMARGIN", new_y="NEXT")
    elif first.startswith("## "):
        pdf.set_font("Helvetica", style="B", size=12)
        pdf.multi_cell(0, 7, first[3:], new_x="LMARGIN", new_y="NEXT")
    elif first.startswith("Table "):
        pdf.set_font("Helvetica", style="I", size=10)
        pdf.multi_cell(0, 6, first, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        with pdf.table(col_widths=(90, 40)) as table:
            for row in lines[1:]:
                cells = table.row()
                for cell in row.strip().strip("|").split("|"):
                    cells.cell(cell.strip())
    else:
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 6, " ".join(line.strip() for line in lines), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def render(source: Path) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(source.stem)
    for page in source.read_text(encoding="utf-8").split("<<<page>>>"):
        pdf.add_page()
        for paragraph in _paragraphs(page):
            _render_paragraph(pdf, paragraph)
    return bytes(pdf.output())


def main() -> None:
    for source in sorted((HERE / "pdf-src").glob("*.txt")):
        target = HERE / f"{source.stem}.pdf"
        target.write_bytes(render(source))
        print(f"wrote {target.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
