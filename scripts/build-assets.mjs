// Copies the console's front-end libraries from node_modules into src/shengjing/web/static/vendor/.
// The list is the whole front end: a library the console loads must be named here.
import { copyFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const target = join(root, "src", "shengjing", "web", "static", "vendor");
const assets = {
  "bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
  "htmx.min.js": "htmx.org/dist/htmx.min.js",
  "echarts.min.js": "echarts/dist/echarts.min.js",
};

mkdirSync(target, { recursive: true });
for (const [name, source] of Object.entries(assets)) {
  const from = join(root, "node_modules", source);
  if (!existsSync(from)) {
    console.error(`missing ${from}: run 'npm ci' first`);
    process.exit(1);
  }
  copyFileSync(from, join(target, name));
  console.log(`static/vendor/${name} <- ${source}`);
}
