// A project's settings page (members and audit trail): server-rendered; the top bar's
// theme toggle, shortcuts and menus are all it needs.

import "../lib/theme.js";
import "../lib/shortcuts.js";
import "../lib/menus.js";
