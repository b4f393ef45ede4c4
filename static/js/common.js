// What every page shares: the theme toggle and the keyboard shortcuts.

const THEME_KEY = "tb-theme";
const themeListeners = new Set();

export function currentTheme() {
  const pinned = document.documentElement.dataset.theme;
  if (pinned) return pinned;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** Call `fn` after the theme changed (charts re-read their colours). */
export function onThemeChange(fn) {
  themeListeners.add(fn);
}

function themeChanged() {
  for (const fn of themeListeners) fn(currentTheme());
}

function setupTheme() {
  const button = document.getElementById("theme-toggle");
  const label = () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    button.setAttribute("aria-label", `Switch to ${next} theme`);
    button.title = `Switch to ${next} theme`;
  };
  if (!button) return;
  label();
  button.addEventListener("click", () => {
    const next = currentTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem(THEME_KEY, next);
    } catch {
      /* private mode: the choice lasts for this page */
    }
    label();
    themeChanged();
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    label();
    themeChanged();
  });
}

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

function setupMenus() {
  // <details class="menu"> drop-downs close on an outside click or Escape.
  document.addEventListener("click", (event) => {
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      if (!menu.contains(event.target) || event.target.closest(".menu__list a")) menu.open = false;
    }
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of document.querySelectorAll("details.menu[open]")) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
}

setupTheme();
setupShortcuts();
setupMenus();
