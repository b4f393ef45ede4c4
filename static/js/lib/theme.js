// The theme toggle (every page): light or dark, pinned in localStorage; base.html's inline
// script applies a pinned theme before first paint.

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

setupTheme();

// Printing is light whatever the theme (the print stylesheet pins the light colours):
// charts re-read their colours for the print and again afterwards.
let pinnedBeforePrint = null;
window.addEventListener("beforeprint", () => {
  if (currentTheme() === "light") return;
  pinnedBeforePrint = { theme: document.documentElement.dataset.theme };
  document.documentElement.dataset.theme = "light";
  themeChanged();
});
window.addEventListener("afterprint", () => {
  if (!pinnedBeforePrint) return;
  const { theme } = pinnedBeforePrint;
  pinnedBeforePrint = null;
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  themeChanged();
});
