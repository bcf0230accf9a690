// The labour inspector's list: the « Imprimer » button (hidden without a script, where the
// browser's own print command does the same).
for (const button of document.querySelectorAll("[data-print]")) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
