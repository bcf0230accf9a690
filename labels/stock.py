"""Label stock: the sheets labels are printed on, as data (one row per product).

Geometry in millimetres from the top-left corner of the page, as the makers publish it:
the size of one label, how many across and down, the margin to the first label and the
pitch (label plus gap) from one label to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

A4_MM = (210.0, 297.0)


@dataclass(frozen=True)
class Stock:
    """A sheet of labels: its size, its grid and its margins, in millimetres."""

    name: str
    title: str  # French, for the people choosing the stock
    label_w_mm: float
    label_h_mm: float
    columns: int
    rows: int
    left_mm: float
    top_mm: float
    pitch_x_mm: float
    pitch_y_mm: float
    page: str = "A4"
    cut_guides: bool = False  # plain card cut by hand: draw a faint outline around each

    @property
    def per_page(self) -> int:
        """Return how many labels one sheet holds."""
        return self.columns * self.rows

    def cell(self, position: int) -> tuple[float, float]:
        """Return the top-left corner (mm from the page's top-left) of a position (0-based)."""
        row, column = divmod(position % self.per_page, self.columns)
        return (self.left_mm + column * self.pitch_x_mm, self.top_mm + row * self.pitch_y_mm)


STOCKS: dict[str, Stock] = {
    stock.name: stock
    for stock in (
        # Avery 3474 geometry: 24 labels 70 × 37 mm, edge to edge across the sheet.
        Stock("3x8", "A4, 24 étiquettes 70 × 37 mm (3 × 8)", 70, 37, 3, 8, 0, 0.5, 70, 37),
        # Avery L7160 geometry: 21 labels 63,5 × 38,1 mm.
        Stock(
            "3x7",
            "A4, 21 étiquettes 63,5 × 38,1 mm (3 × 7)",
            63.5,
            38.1,
            3,
            7,
            7.21,
            15.15,
            66.04,
            38.1,
        ),
        # Avery L7163 geometry: 14 labels 99,1 × 38,1 mm.
        Stock(
            "2x7",
            "A4, 14 étiquettes 99,1 × 38,1 mm (2 × 7)",
            99.1,
            38.1,
            2,
            7,
            4.65,
            15.15,
            101.6,
            38.1,
        ),
        # Credit-card badges (ISO/IEC 7810 ID-1) on plain card, cut along the guides.
        Stock(
            "carte",
            "A4, 10 badges 85,6 × 54 mm (format carte bancaire, 2 × 5)",
            85.6,
            54,
            2,
            5,
            14.4,
            13.5,
            95.6,
            54,
            cut_guides=True,
        ),
    )
}


class InvalidStock(ValueError):
    """An unknown stock name; ``message`` (French) lists the known ones."""

    def __init__(self, name: str) -> None:
        known = ", ".join(f"« {key} » ({stock.title})" for key, stock in STOCKS.items())
        self.message = f"Support d'étiquettes inconnu : « {name} ». Supports connus : {known}."
        super().__init__(self.message)


def get_stock(name: str) -> Stock:
    """Return the stock of that name, or raise ``InvalidStock``."""
    try:
        return STOCKS[name]
    except KeyError:
        raise InvalidStock(name) from None
