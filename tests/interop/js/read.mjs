// read.mjs STORE ARRAY_PATH [ARRAY_PATH...]
//
// Open a Zarr v2 or v3 store (a directory, or a .zip file) with zarrita, read
// the whole array at each ARRAY_PATH ("" = the root) and print one JSON line
// per array, in argument order:
//   {"shape": [...], "dtype": "<zarrita data type>", "data": [flattened, C order]}
// Floats that JSON cannot hold are printed as "NaN" / "Infinity" / "-Infinity";
// 64-bit integers as numbers when exactly representable, else as strings;
// bool as true/false; string arrays (vlen-utf8, |S, <U) as strings.
// Exits 1 (message on stderr) when zarrita cannot open or read the array.
//
// zarrita is loaded from this directory's node_modules, or from
// $LSTAR_NODE_MODULES when set.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules = process.env.LSTAR_NODE_MODULES || path.join(here, "node_modules");

async function load(pkgName, sub) {
  const dir = path.join(nodeModules, pkgName);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const exp = pkg.exports[sub ? "./" + sub : "."];
  const target = typeof exp === "string" ? exp : exp.import || exp.default;
  return import(pathToFileURL(path.join(dir, target)).href);
}

function number(v) {
  if (typeof v === "bigint") {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v.toString();
  }
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (v === Infinity) return "Infinity";
    if (v === -Infinity) return "-Infinity";
  }
  return v;
}

async function main() {
  const [storePath, ...arrayPaths] = process.argv.slice(2);
  if (!storePath || arrayPaths.length === 0) {
    console.error("usage: node read.mjs STORE ARRAY_PATH [ARRAY_PATH...]");
    process.exit(2);
  }
  const zarr = await load("zarrita");
  let store;
  if (fs.statSync(storePath).isFile()) {
    const ZipFileStore = (await load("@zarrita/storage", "zip")).default;
    store = ZipFileStore.fromBlob(new Blob([fs.readFileSync(storePath)]));
  } else {
    const FileSystemStore = (await load("@zarrita/storage", "fs")).default;
    store = new FileSystemStore(storePath);
  }
  const root = zarr.root(store);
  for (const arrayPath of arrayPaths) {
    const arr = await zarr.open(arrayPath ? root.resolve(arrayPath) : root, { kind: "array" });
    const chunk = await zarr.get(arr);
    const data = [];
    const d = chunk.data;
    if (typeof d.get === "function" && !ArrayBuffer.isView(d)) {
      for (let i = 0; i < d.length; i++) data.push(number(d.get(i)));
    } else {
      for (const v of d) data.push(number(v));
    }
    process.stdout.write(JSON.stringify({ shape: arr.shape, dtype: arr.dtype, data }) + "\n");
  }
}

main().catch((e) => {
  console.error("read.mjs: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
