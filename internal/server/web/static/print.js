// The Print button of a card or certificate page. Without JavaScript the
// button stays hidden and the browser's own Print command does the same.
"use strict";
document.querySelectorAll("button.print").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
