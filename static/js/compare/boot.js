// What the server rendered into the compare page for its scripts (#compare-boot, a
// json_script; present only when there are jobs to compare).

export const boot = JSON.parse(document.getElementById("compare-boot").textContent);
