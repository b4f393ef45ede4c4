// What the server rendered into the job page for its scripts (#job-boot, a json_script).

export const boot = JSON.parse(document.getElementById("job-boot").textContent);
export const uid = boot.uid;
