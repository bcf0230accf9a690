"""Pure label code (imports nothing of app/): the grammar of the printed codes (codes), Code
128 symbols (barcode), label stock (stock), PDF sheets, badges, action board and traveller
(pdf), and ZPL for thermal printers (zpl)."""
