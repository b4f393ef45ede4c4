// The "Columns" menu: a search over the offered columns and a checkbox per column; a
// change reopens the table with the new column set.

import { boot, navigate } from "./state.js";

export function setup() {
  const menu = document.getElementById("columns-menu");
  if (!menu) return;
  const search = document.getElementById("columns-search");
  search.addEventListener("input", () => {
    const needle = search.value.trim().toLowerCase();
    for (const item of menu.querySelectorAll(".columns-menu__item")) {
      item.hidden = needle !== "" && !item.textContent.toLowerCase().includes(needle) &&
        !item.querySelector("input").value.toLowerCase().includes(needle);
    }
  });
  menu.addEventListener("change", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
    const columns = boot.columns.filter((c) => c !== box.value);
    if (box.checked) columns.push(box.value);
    const sortColumn = boot.sort.replace(/^-/, "");
    const sort = box.checked || sortColumn !== box.value ? boot.sort : "";
    navigate({ columns: columns.join(","), sort });
  });
  menu.addEventListener("toggle", () => {
    if (menu.open) search.focus();
  });
}
