// The entry point of the one page: boot the state, render it whenever it changes.

import { html, render } from "./lib.js";
import { ChatApp } from "./state.js";
import { Root } from "./ui/shell.js";

const root = document.getElementById("app");
const app = new ChatApp();
app.renderer = () => render(html`<${Root} app=${app} />`, root);
window.chat = app; // for the console and the tests
app.renderer();
app.boot();
