// Users and API keys on the Options page, through /api/v1/users and /api/v1/keys: add a user with a scope,
// change a user's scope, delete one; make a key (shown here once, with its scope, and gone on the next
// reload), revoke one. After each change both tables are drawn again from the API.
(function () {
  "use strict";
  const users = document.getElementById("users");
  const keys = document.getElementById("keys");
  if (!users || !keys) return;
  const { call, el, format } = window.librarrarian;
  const SCOPES = ["read", "control", "admin"];

  function reporter(name) {
    const message = document.getElementById(name + "-message");
    const problem = document.getElementById(name + "-problem");
    return async function run(working, step) {
      problem.hidden = true;
      problem.textContent = "";
      message.textContent = working;
      try {
        message.textContent = (await step()) || "";
      } catch (error) {
        message.textContent = "";
        problem.hidden = false;
        problem.textContent = error.message;
      }
    };
  }
  const usersDo = reporter("users");
  const keysDo = reporter("keys");

  function scopeSelect(current, label) {
    const select = el("select");
    select.name = "scope";
    select.setAttribute("aria-label", label);
    for (const scope of SCOPES) {
      const option = el("option", null, scope);
      option.value = scope;
      option.selected = scope === current;
      select.append(option);
    }
    return select;
  }

  function cell(child) {
    const td = el("td");
    td.append(child);
    return td;
  }

  function actionButton(cls, label) {
    const b = el("button", cls, label);
    b.type = "button";
    return b;
  }

  async function drawUsers() {
    const rows = (await call("GET", "/api/v1/users")).map((u) => {
      const tr = el("tr");
      tr.dataset.name = u.name;
      tr.append(el("td", null, u.name), cell(scopeSelect(u.scope, "Scope of " + u.name)),
        el("td", null, format.when(u.created_at)), cell(actionButton("delete-user", "Delete")));
      return tr;
    });
    users.tBodies[0].replaceChildren(...rows);
  }

  async function drawKeys() {
    const rows = (await call("GET", "/api/v1/keys")).map((k) => {
      const tr = el("tr");
      tr.dataset.id = k.id;
      tr.append(el("td", null, k.name), cell(el("code", null, k.prefix + "\u2026")), el("td", null, k.scope),
        el("td", null, format.when(k.created_at)), el("td", null, format.when(k.last_used)),
        cell(actionButton("revoke", "Revoke")));
      return tr;
    });
    keys.tBodies[0].replaceChildren(...rows);
  }

  document.getElementById("add-user").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    const body = { name: form.elements.name.value.trim(), password: form.elements.password.value, scope: form.elements.scope.value };
    usersDo("Adding\u2026", async () => {
      await call("POST", "/api/v1/users", body);
      form.reset();
      await drawUsers();
      return "Added " + body.name + " (" + body.scope + ").";
    });
  });

  users.addEventListener("change", (e) => {
    if (e.target.name !== "scope") return;
    const name = e.target.closest("tr").dataset.name;
    usersDo("Saving\u2026", async () => {
      try {
        await call("PATCH", "/api/v1/users/" + encodeURIComponent(name), { scope: e.target.value });
      } finally {
        await drawUsers(); // a refused change shows the scope kept
      }
      return name + " now has the " + e.target.value + " scope.";
    });
  });

  users.addEventListener("click", (e) => {
    if (!e.target.classList.contains("delete-user")) return;
    const name = e.target.closest("tr").dataset.name;
    if (!confirm("Delete the user " + name + "? Their sessions end at once.")) return;
    usersDo("Deleting\u2026", async () => {
      await call("DELETE", "/api/v1/users/" + encodeURIComponent(name));
      await drawUsers();
      return "Deleted " + name + ".";
    });
  });

  const shown = document.getElementById("new-key");
  document.getElementById("add-key").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    const body = { name: form.elements.name.value.trim(), scope: form.elements.scope.value };
    shown.hidden = true;
    keysDo("Making a key\u2026", async () => {
      const made = await call("POST", "/api/v1/keys", body);
      shown.querySelector(".name").textContent = made.name;
      shown.querySelector(".scope").textContent = made.scope;
      shown.querySelector(".key").textContent = made.key;
      shown.hidden = false;
      form.reset();
      await drawKeys();
      return "";
    });
  });

  keys.addEventListener("click", (e) => {
    if (!e.target.classList.contains("revoke")) return;
    const row = e.target.closest("tr");
    const name = row.cells[0].textContent;
    if (!confirm("Revoke the key " + name + "? Programs using it are refused from now on.")) return;
    keysDo("Revoking\u2026", async () => {
      await call("DELETE", "/api/v1/keys/" + row.dataset.id);
      shown.hidden = true;
      shown.querySelector(".key").textContent = "";
      await drawKeys();
      return "Revoked " + name + ".";
    });
  });
})();
