// Keyboard shortcuts (every page): / search, ? the list, g d the dashboard, and the
// page's own `l` and `r`.

const shortcutActions = {};

/** Register what `l` (live/pause) and `r` (refresh) do on this page. */
export function onShortcut(key, fn) {
  shortcutActions[key] = fn;
}

function typing(target) {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))
  );
}

function setupShortcuts() {
  let pendingG = 0;
  const dialog = document.getElementById("shortcuts");
  document.addEventListener("keydown", (event) => {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) {
        event.preventDefault();
        search.focus();
        search.select();
      }
    } else if (key === "?") {
      event.preventDefault();
      if (dialog && !dialog.open) dialog.showModal();
    } else if (key === "g") {
      pendingG = Date.now();
      return;
    } else if (key === "d" && Date.now() - pendingG < 1200) {
      location.href = "/";
    } else if (shortcutActions[key]) {
      event.preventDefault();
      shortcutActions[key]();
    }
    pendingG = 0;
  });
}

setupShortcuts();
