// The routing table of the work order and template forms: « Ajouter une étape » adds a
// row (without a script the form already has empty rows). No inline script: CSP.

function renumber(row, index) {
  for (const field of row.querySelectorAll("input, select")) {
    const base = field.name.replace(/_\d+$/, "");
    field.name = `${base}_${index}`;
    field.id = `${base}_${index}`;
    field.value = "";
  }
  for (const label of row.querySelectorAll("label")) {
    const base = label.htmlFor.replace(/_\d+$/, "");
    label.htmlFor = `${base}_${index}`;
    label.textContent = label.textContent.replace(/\d+$/, String(index + 1));
  }
}

function wire(table) {
  const button = table.closest("form")?.querySelector("[data-add-step]");
  const body = table.tBodies[0];
  if (!button || !body) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", () => {
    const rows = body.querySelectorAll("[data-step-row]");
    const last = rows[rows.length - 1];
    if (!last || rows.length >= 40) {
      return;
    }
    const row = last.cloneNode(true);
    renumber(row, rows.length);
    body.append(row);
    row.querySelector("input")?.focus();
  });
}

for (const table of document.querySelectorAll("table[data-steps]")) {
  wire(table);
}
