"""A PDF page rendered with pypdfium2, the cited passage marked by boxes over its lines of text."""
from __future__ import annotations

import io
import unicodedata
from pathlib import Path

SCALE = 1.6  # 115 dpi: legible in a card without multi-megabyte images


def _flat(text: str) -> tuple[str, list[int]]:
    """NFKC text without whitespace, and for each of its characters the index it came from."""
    out, origin = [], []
    for i, ch in enumerate(text):
        for n in unicodedata.normalize("NFKC", ch):
            if not n.isspace():
                out.append(n)
                origin.append(i)
    return "".join(out), origin


def locate(page_text: str, passage: str, probe: int = 60) -> tuple[int, int] | None:
    """Character range of page_text covered by passage (which may start or end off the page), or None.

    Matching ignores whitespace and ligature differences, since PDF text wraps lines and the index stores NFKC.
    """
    page_flat, origin = _flat(page_text)
    want, _ = _flat(passage)
    if not want or not page_flat:
        return None
    head = want[:probe]
    start = page_flat.find(head)
    if start >= 0:
        end = min(start + len(want), len(page_flat))
        return origin[start], origin[end - 1] + 1
    # The passage began on an earlier page: find where its tail ends on this one.
    for size in (probe, probe // 2):
        tail = want[-size:]
        at = page_flat.find(tail)
        if at >= 0:
            return 0, origin[at + len(tail) - 1] + 1
    return None


def _line_boxes(boxes: list[tuple[float, float, float, float]]) -> list[tuple[float, float, float, float]]:
    """Merge character boxes (left, bottom, right, top) into one box per text line."""
    lines: list[list[float]] = []
    for left, bottom, right, top in boxes:
        if right <= left:
            continue
        if lines and abs(lines[-1][1] - bottom) < 0.5 * max(top - bottom, 1.0):
            line = lines[-1]
            line[0], line[1], line[2], line[3] = min(line[0], left), min(line[1], bottom), max(line[2], right), max(line[3], top)
        else:
            lines.append([left, bottom, right, top])
    return [tuple(x) for x in lines]


def _band(lines, height: float, min_share: float = 0.4, pad: float = 90.0) -> tuple[float, float]:
    """Top and bottom (points from the page top) of a horizontal band around the marked lines."""
    top = min(height - t for _, _, _, t in lines)
    bottom = max(height - b for _, b, _, _ in lines)
    size = max(bottom - top + 2 * pad, min_share * height)
    start = min(max((top + bottom - size) / 2, 0.0), max(height - size, 0.0))
    return start, min(start + size, height)


def marked_page_png(pdf_path: str | Path, page_number: int, passage: str, crop: bool = False) -> tuple[bytes, bool]:
    """PNG of a 1-based page with the passage marked, and whether the passage was found on it.

    With crop, only a band of the page around the passage (at least 40% of the page) is returned, so the mark is in
    view without scrolling; the whole page is returned when the passage is not found.
    """
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    pdf = pdfium.PdfDocument(str(pdf_path))
    try:
        page = pdf[page_number - 1]
        width, height = page.get_size()
        image = page.render(scale=SCALE).to_pil().convert("RGBA")
        textpage = page.get_textpage()
        found = locate(textpage.get_text_range(), passage)
        lines = _line_boxes([textpage.get_charbox(i) for i in range(found[0], found[1])]) if found else []
        if lines:
            overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
            draw = ImageDraw.Draw(overlay)
            for left, bottom, right, top in lines:
                box = ((left - 2) * SCALE, (height - top - 2) * SCALE, (right + 2) * SCALE, (height - bottom + 2) * SCALE)
                draw.rectangle(box, fill=(255, 213, 79, 90))
            # A bar in the page's left text margin, so the mark shows even where the highlight is faint and never
            # covers the clause's own label ("(iii)").
            margin = min((textpage.get_rect(i)[0] for i in range(textpage.count_rects())), default=lines[0][0])
            top = min(height - t for _, _, _, t in lines) * SCALE
            bottom = max(height - b for _, b, _, _ in lines) * SCALE
            x = max(min(margin, min(left for left, _, _, _ in lines)) * SCALE - 14, 2)
            draw.rectangle((x, top - 2, x + 4, bottom + 2), fill=(230, 120, 0, 255))
            image = Image.alpha_composite(image, overlay)
            if crop:
                start, end = _band(lines, height)
                image = image.crop((0, int(start * SCALE), image.width, int(end * SCALE)))
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG", optimize=True)
        return buf.getvalue(), found is not None
    finally:
        pdf.close()
