// Entry point of the console script (bundled into src/web/console/quietline.js).
import { init } from "./dom.js";

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", () => init(), { once: true });
} else {
  init();
}
