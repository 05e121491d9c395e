// lstar_compare.mjs OURS REFERENCE [EXPECTED_JSON]
//
// Open two L* stores (Zarr v2 or v3, sharded or not) with zarrita and check
// that OURS holds the same L* content as REFERENCE: root/axis/field/passthrough
// "lstar" attributes (values and key order), and for every value array the
// dtype, shape and values (strings decoded from bytes + offsets).  With
// EXPECTED_JSON (upstream conformance/fixtures/expected.json) a few frozen
// values are checked too.  Prints what it checked; exits 1 on a mismatch.
//
// zarrita is loaded from this directory's node_modules (package.json of the
// Zarr interop tests) or from $LSTAR_NODE_MODULES when set.
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

const zarr = await load("zarrita");
const FileSystemStore = (await load("@zarrita/storage", "fs")).default;

let checks = 0;
function fail(msg) {
  console.error("FAIL: " + msg);
  process.exit(1);
}
function check(cond, msg) {
  checks++;
  if (!cond) fail(msg);
}

// JSON with sorted keys, for order-insensitive equality.
function canon(v) {
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v && typeof v === "object")
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  return JSON.stringify(v);
}

async function group(root, p) {
  return zarr.open(p ? root.resolve(p) : root, { kind: "group" });
}

async function readArray(root, p) {
  const arr = await zarr.open(root.resolve(p), { kind: "array" });
  const r = await zarr.get(arr);
  const data = Array.from(r.data, (x) => (typeof x === "bigint" ? Number(x) : x));
  return { dtype: arr.dtype, shape: Array.from(arr.shape), chunks: Array.from(arr.chunks), data };
}

async function strings(root, dir, name) {
  const b = await readArray(root, `${dir}/${name}`);
  const o = await readArray(root, `${dir}/${name}_offsets`);
  check(b.dtype === "uint8", `${dir}/${name} is uint8 (got ${b.dtype})`);
  check(o.dtype === "int64", `${dir}/${name}_offsets is int64 (got ${o.dtype})`);
  const bytes = Uint8Array.from(b.data);
  const dec = new TextDecoder();
  const out = [];
  for (let i = 0; i + 1 < o.data.length; i++) out.push(dec.decode(bytes.subarray(o.data[i], o.data[i + 1])));
  return out;
}

// Key order: the upstream writer's; for a v2 store also sorted keys (zarr-python 2
// serialises attributes with sorted keys, as upstream 0.1.0-0.1.6 did).
let oursIsV2 = false;
function sameAttrs(a, b, where) {
  check(canon(a) === canon(b), `${where}: attributes differ\n ours: ${JSON.stringify(a)}\n  ref: ${JSON.stringify(b)}`);
  const ka = JSON.stringify(Object.keys(a));
  const sorted = JSON.stringify(Object.keys(a).slice().sort());
  check(
    ka === JSON.stringify(Object.keys(b)) || (oursIsV2 && ka === sorted),
    `${where}: key order differs: ${Object.keys(a)} vs ${Object.keys(b)}`,
  );
}

async function sameArray(ours, ref, p) {
  const a = await readArray(ours, p);
  const b = await readArray(ref, p);
  check(a.dtype === b.dtype, `${p}: dtype ${a.dtype} vs ${b.dtype}`);
  check(canon(a.shape) === canon(b.shape), `${p}: shape ${a.shape} vs ${b.shape}`);
  check(a.data.length === b.data.length, `${p}: length`);
  for (let i = 0; i < a.data.length; i++)
    if (!(a.data[i] === b.data[i] || (Number.isNaN(a.data[i]) && Number.isNaN(b.data[i]))))
      fail(`${p}[${i}]: ${a.data[i]} vs ${b.data[i]}`);
  checks++;
  return a;
}

const ARRAYS = {
  dense: ["values"],
  csr: ["data", "indices", "indptr"],
  csc: ["data", "indices", "indptr"],
  coo: ["row", "col", "weight"],
  utf8: ["values", "values_offsets"],
  categorical: ["codes", "categories", "categories_offsets"],
};

async function main() {
  const [oursPath, refPath, expectedPath] = process.argv.slice(2);
  if (!oursPath || !refPath) fail("usage: node lstar_compare.mjs OURS REFERENCE [EXPECTED_JSON]");
  oursIsV2 = fs.existsSync(path.join(oursPath, ".zgroup"));
  const ours = zarr.root(new FileSystemStore(oursPath));
  const ref = zarr.root(new FileSystemStore(refPath));
  const og = await group(ours, "");
  const rg = await group(ref, "");
  const L = og.attrs.lstar;
  check(L !== undefined, "ours: root has an lstar attribute");
  sameAttrs(L, rg.attrs.lstar, "root");
  for (const g of ["axes", "fields", "models"]) check(canon((await group(ours, g)).attrs) === "{}", `${g}/ attrs {}`);

  const arraysInfo = {};
  for (const ax of L.axes) {
    const p = `axes/${ax}`;
    sameAttrs((await group(ours, p)).attrs.lstar, (await group(ref, p)).attrs.lstar, p);
    const a = await strings(ours, p, "labels");
    const b = await strings(ref, p, "labels");
    check(canon(a) === canon(b), `${p}: labels ${a} vs ${b}`);
  }
  for (const f of L.fields) {
    const p = `fields/${f}`;
    const fa = (await group(ours, p)).attrs.lstar;
    sameAttrs(fa, (await group(ref, p)).attrs.lstar, p);
    const names = [...(ARRAYS[fa.encoding] || [])];
    if (fa.nullable) names.push("mask");
    if (fa.coverage === "partial") names.push("index");
    for (const n of names) {
      const a = await sameArray(ours, ref, `${p}/${n}`);
      arraysInfo[`${p}/${n}`] = { dtype: a.dtype, shape: a.shape, chunks: a.chunks };
    }
    if (fa.encoding === "utf8") {
      const s = await strings(ours, p, "values");
      check(s.length === fa.shape[0], `${p}: ${s.length} strings`);
    }
  }
  for (const ns of L.passthrough || []) {
    const p = `passthrough/${ns}`;
    const pa = (await group(ours, p)).attrs.lstar;
    sameAttrs(pa, (await group(ref, p)).attrs.lstar, p);
    for (const leaf of pa.arrays) {
      await sameArray(ours, ref, `${p}/${leaf.id}`);
      if (leaf.kind === "utf8") await sameArray(ours, ref, `${p}/${leaf.id}_offsets`);
    }
  }

  if (expectedPath) {
    const x = JSON.parse(fs.readFileSync(expectedPath, "utf8"));
    const sum = (v) => v.reduce((s, e) => s + e, 0);
    const r4 = (v) => Math.round(v * 1e4) / 1e4;
    const counts = await readArray(ours, "fields/counts/data");
    check(counts.data.length === x.counts.nnz, "counts nnz");
    check(r4(sum(counts.data)) === x.counts.sum, "counts sum");
    const pca = await readArray(ours, "fields/pca/values");
    check(r4(sum(pca.data)) === x.pca.sum, `pca sum ${r4(sum(pca.data))}`);
    check(canon(await strings(ours, "fields/leiden", "values")) === canon(x.leiden), "leiden labels");
    check(canon(await strings(ours, "fields/celltype", "categories")) === canon(x.celltype.categories),
      "celltype categories");
    const codes = await readArray(ours, "fields/celltype/codes");
    check(canon(codes.data) === canon(x.celltype.codes), "celltype codes");
    const idx = await readArray(ours, "fields/adt/index");
    check(canon(idx.data) === canon(x.adt.index), "adt index");
    const knn = await readArray(ours, "fields/knn/data");
    check(knn.data.length === x.knn.nnz, "knn nnz");
  }
  console.log(JSON.stringify({ ok: true, checks, arrays: arraysInfo }));
}

await main();
