// The configuration diff: "only differences" hides the rows every job shares.

const onlyDiff = document.getElementById("only-diff");
onlyDiff?.addEventListener("change", () => {
  document.getElementById("config-diff").dataset.onlyDiff = String(onlyDiff.checked);
});
